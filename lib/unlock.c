// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The whole unlock that the plugin and `oyster unseal` share, and why it was
 * refused, said in the user's terms.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "encode.h"
#include "log.h"
#include "pin.h"
#include "tpm.h"
#include "unlock.h"

int unlock_diff(struct tpm *t, const struct token *tok, struct pcr_state *now, uint32_t *changed)
{
	size_t size = pcr_bank_digest_size(tok->bank);
	int match = -ENOENT;
	int r;

	*changed = 0;
	r = tpm_pcr_read(t, tok->bank, tok->pcr_mask, now);
	if (r < 0)
		return r;
	FOREACH_PCR_IN_MASK(pcr, tok->pcr_mask) {
		bool known = false;

		for (unsigned s = 0; s < tok->n_states && !known; s++)
			known = !memcmp(now->value[pcr], tok->states[s].value[pcr], size);
		if (!known)
			*changed |= 1u << pcr;
	}
	for (unsigned s = 0; s < tok->n_states && match < 0; s++)
		if (!pcr_state_diff(now, &tok->states[s], tok->pcr_mask, size))
			match = (int)s;
	return match;
}

enum pcr_verdict unlock_pcr_verdict(const struct token *tok, int r, uint32_t changed)
{
	if (r >= 0)
		return PCR_VERDICT_APPROVED;
	if (r != -ENOENT)
		return PCR_VERDICT_UNREAD;
	if (!changed)
		return PCR_VERDICT_COMBINATION;
	if (!(changed & ~token_fence_pcrs(tok)))
		return PCR_VERDICT_FENCE;
	return PCR_VERDICT_CHANGED;
}

static void explain_refusal(struct tpm *t, const struct token *tok)
{
	struct pcr_state now;
	uint32_t changed;
	char pcrs[512];
	int r;

	r = unlock_diff(t, tok, &now, &changed);
	switch (unlock_pcr_verdict(tok, r, changed)) {
	case PCR_VERDICT_APPROVED:
		/* The values match an approved state, yet the TPM said no. */
		log_err("The TPM refused to unseal although the PCRs match an enrolled state; "
			"unlock with the passphrase and enroll again.");
		return;
	case PCR_VERDICT_UNREAD:
		log_err("The TPM refused to unseal: the measured boot state changed; unlock with "
			"the passphrase, then approve this boot with oyster reseal.");
		return;
	case PCR_VERDICT_COMBINATION:
		pcr_describe(tok->pcr_mask, pcrs, sizeof(pcrs));
		log_err("The TPM refused: the combination of %s matches no enrolled state; unlock "
			"with the passphrase, then approve this boot with oyster reseal.",
			pcrs);
		return;
	case PCR_VERDICT_FENCE:
	case PCR_VERDICT_CHANGED:
		/* At boot the fence's PCR has not been extended yet: a change there is no fence. */
		break;
	}
	pcr_describe(changed, pcrs, sizeof(pcrs));
	log_err("The TPM refused: %s changed since enrollment; unlock with the passphrase, then "
		"approve this boot with oyster reseal.",
		pcrs);
}

static void explain_da(struct tpm *t, int r)
{
	struct tpm_da da;

	if (tpm_da_read(t, &da) < 0 || !da.max_tries) {
		if (r == -EACCES)
			log_err("Wrong PIN.");
		else
			log_err("The TPM is locked out after too many wrong PINs; unlock with the "
				"passphrase.");
		return;
	}
	if (r == -EACCES && da.counter < da.max_tries)
		log_err("Wrong PIN; %u more wrong PINs lock the TPM out.",
			da.max_tries - da.counter);
	else if (r == -EACCES || !da.interval)
		log_err("Wrong PIN; the TPM is now locked out; unlock with the passphrase.");
	else
		log_err("The TPM is locked out after too many wrong PINs and allows one more try "
			"in at most %u seconds; unlock with the passphrase.",
			da.interval);
}

int unlock_token_raw(struct tpm *t, const struct token *tok, const char *pin, size_t pin_len,
		     struct secret **out)
{
	struct secret *auth = NULL;
	struct secret *raw = NULL;
	int r;

	*out = NULL;
	if (tok->pin && pin) {
		r = pin_auth_value(tok, pin, pin_len, &auth);
		if (r < 0)
			return r;
	}
	r = tpm_unseal(t, tok, tok->pin ? auth : NULL, &raw);
	if (r == -ESTALE) {
		struct pcr_state now;
		uint32_t changed;
		int match;

		/*
		 * PolicyAuthorizeNV refused the session's digest: either the PCRs match
		 * no state (one state needs no PolicyOR to say so), or they match one
		 * that the index no longer approves.  (unlock_diff() sets `changed`:
		 * call it before reading it, not in the same argument list.)
		 */
		match = unlock_diff(t, tok, &now, &changed);
		if (unlock_pcr_verdict(tok, match, changed) == PCR_VERDICT_APPROVED)
			log_err("The TPM refused: this token's approved states were replaced since "
				"this header was written (a restored old header?); unlock with the "
				"passphrase.");
		else
			explain_refusal(t, tok);
		r = -EPERM;
	} else if (r == -ENXIO) {
		r = -EPERM; /* logged: the NV index is gone or unreadable */
	} else if (r == -EPERM)
		explain_refusal(t, tok);
	else if (r == -EACCES || r == -EBUSY)
		explain_da(t, r);
	else if (r == -ENOKEY)
		log_debug("This token needs a PIN.");
	else if (r == -EIO)
		log_err("The TPM failed to unseal the secret; unlock with the passphrase (oyster "
			"status tells more).");
	if (r >= 0) {
		*out = raw;
		raw = NULL;
		r = 0;
	}
	secret_free(auth);
	secret_free(raw);
	return r;
}

int unlock_token_with(struct tpm *t, const struct token *tok, const char *pin, size_t pin_len,
		      struct secret **passphrase)
{
	struct secret *raw = NULL;
	struct secret *pass = NULL;
	int r;

	*passphrase = NULL;
	r = unlock_token_raw(t, tok, pin, pin_len, &raw);
	if (r < 0)
		return r;
	pass = secret_new(BASE64_LEN(raw->len));
	if (!pass) {
		r = -ENOMEM;
		goto out;
	}
	r = base64_encode(raw->data, raw->len, (char *)pass->data, pass->size + 1);
	if (r < 0)
		goto out;
	pass->len = BASE64_LEN(raw->len);
	*passphrase = pass;
	pass = NULL;
out:
	secret_free(raw);
	secret_free(pass);
	return r;
}

int unlock_token(const struct token *tok, const char *pin, size_t pin_len,
		 struct secret **passphrase)
{
	struct tpm *t = NULL;
	int r;

	*passphrase = NULL;
	r = tpm_open(&t);
	if (r < 0)
		return r;
	r = unlock_token_with(t, tok, pin, pin_len, passphrase);
	tpm_close(t);
	return r;
}

int unlock_with_pin(struct tpm *t, const struct token *tok, const struct secret *pin,
		    struct secret **passphrase)
{
	return unlock_token_with(t, tok, pin ? (const char *)pin->data : NULL, pin ? pin->len : 0,
				 passphrase);
}
