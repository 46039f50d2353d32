/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_UNLOCK_H
#define OYSTER_UNLOCK_H

#include <stdint.h>

#include "pcr.h"
#include "secret.h"
#include "token.h"

struct tpm;

/*
 * The whole unlock, shared by the plugin and `oyster unseal`: open the TPM,
 * unseal, encode the keyslot passphrase (NUL-terminated, len 44). pin (not
 * NUL-terminated; NULL for none) is used when the token has one. Errors as
 * in tpm.h; each logs its reason in the user's terms (which PCRs changed,
 * how many PIN tries remain, when a lockout lifts).
 */
int unlock_token(const struct token *tok, const char *pin, size_t pin_len,
		 struct secret **passphrase);
int unlock_token_with(struct tpm *t, const struct token *tok, const char *pin, size_t pin_len,
		      struct secret **passphrase);
/*
 * unlock_token_with() up to the unsealed secret itself, not encoded (what a
 * reseal seals again); same errors, same messages.
 */
/* unlock_token_with() with the PIN in a secret buffer (or none). */
int unlock_with_pin(struct tpm *t, const struct token *tok, const struct secret *pin,
		    struct secret **passphrase);
int unlock_token_raw(struct tpm *t, const struct token *tok, const char *pin, size_t pin_len,
		     struct secret **raw);

/*
 * Current values of the token's PCRs into now; *changed gets the PCRs whose
 * value matches no approved state. Returns the index of the state that
 * matches exactly, or -ENOENT when none does (or another negative errno).
 */
int unlock_diff(struct tpm *t, const struct token *tok, struct pcr_state *now, uint32_t *changed);

/*
 * Why the PCRs do or do not open tok, decided once from unlock_diff()'s
 * result r and changed; the unlock's log, status and the boot console word it
 * each for their reader.
 */
enum pcr_verdict {
	PCR_VERDICT_APPROVED,	 /* a state matches exactly */
	PCR_VERDICT_UNREAD,	 /* the PCRs could not be read (r is another errno) */
	PCR_VERDICT_COMBINATION, /* each PCR matches some state, no state as a whole */
	PCR_VERDICT_FENCE,	 /* only the boot fence's PCRs left their reset value */
	PCR_VERDICT_CHANGED,	 /* PCRs outside the fence changed */
};
enum pcr_verdict unlock_pcr_verdict(const struct token *tok, int r, uint32_t changed);

#endif
