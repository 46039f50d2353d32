/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_UNLOCK_H
#define OYSTER_UNLOCK_H

#include <stddef.h>
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
 * Whether tok opens now, and why not: decided here once. The unlock's log,
 * status and the boot console each word it for their reader, from
 * unlock_reason()'s phrase.
 */
enum unlock_verdict {
	UNLOCK_APPROVED,    /* the PCRs match an approved state */
	UNLOCK_NEXT_BOOT,   /* approved for this boot whatever it measures */
	UNLOCK_NO_TPM,	    /* no TPM reachable */
	UNLOCK_OTHER_TPM,   /* sealed under another TPM's storage root key */
	UNLOCK_UNREAD,	    /* the TPM could not be queried */
	UNLOCK_NV_GONE,	    /* the token's NV index was undefined, or the TPM cleared */
	UNLOCK_NV_LOCKED,   /* an owner password keeps anyone from reading the NV index */
	UNLOCK_REVOKED,	    /* the NV index approves other states than this header's */
	UNLOCK_COMBINATION, /* each PCR matches some state, no state as a whole */
	UNLOCK_FENCE,	    /* only the boot fence's PCRs left their reset value */
	UNLOCK_CHANGED,	    /* PCRs outside the fence changed */
};

/* What unlock_check() read, for the reader who names PCRs and events. */
struct unlock_check {
	int state; /* unlock_diff()'s result: the matching state, -ENOENT, or unread */
	uint32_t changed;
	struct pcr_state now;
};

/* The PCRs' part alone, from unlock_diff()'s result r and changed. */
enum unlock_verdict unlock_pcr_verdict(const struct token *tok, int r, uint32_t changed);
/* The NV index's part alone (authorized tokens): UNLOCK_APPROVED when it approves tok. */
enum unlock_verdict unlock_nv_verdict(struct tpm *t, const struct token *tok);
/*
 * The whole verdict, asking the TPM t what status needs: its SRK, the PCRs,
 * the NV index, the reset count. t NULL: UNLOCK_NO_TPM, c->state -ENODEV.
 */
enum unlock_verdict unlock_check(struct tpm *t, const struct token *tok, struct unlock_check *c);
/*
 * The verdict v as a phrase without advice ("PCR 4 (...) changed since
 * enrollment"), c as unlock_check() filled it. Returns buf.
 */
const char *unlock_reason(enum unlock_verdict v, const struct token *tok,
			  const struct unlock_check *c, char *buf, size_t size);

#endif
