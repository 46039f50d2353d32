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

enum unlock_verdict unlock_pcr_verdict(const struct token *tok, int r, uint32_t changed)
{
	if (r >= 0)
		return UNLOCK_APPROVED;
	if (r != -ENOENT)
		return UNLOCK_UNREAD;
	if (!changed)
		return UNLOCK_COMBINATION;
	if (!(changed & ~token_fence_pcrs(tok)))
		return UNLOCK_FENCE;
	return UNLOCK_CHANGED;
}

enum unlock_verdict unlock_nv_verdict(struct tpm *t, const struct token *tok)
{
	uint8_t nv[OYSTER_POLICY_SIZE];
	int r;

	r = tpm_nv_read(t, tok->nv_index, tok->nv_name, nv);
	if (r == -ENOENT || r == -EKEYREJECTED)
		return UNLOCK_NV_GONE;
	if (r == -EACCES)
		return UNLOCK_NV_LOCKED;
	if (r < 0)
		return UNLOCK_UNREAD;
	/* After an interrupted approval the index may approve the header's previous set. */
	if (memcmp(nv, tok->approved, sizeof(nv)) &&
	    !(tok->has_previous && !memcmp(nv, tok->previous.approved, sizeof(nv))))
		return UNLOCK_REVOKED;
	return UNLOCK_APPROVED;
}

enum unlock_verdict unlock_check(struct tpm *t, const struct token *tok, struct unlock_check *c)
{
	enum unlock_verdict v;
	uint32_t reset;
	int r;

	c->state = -ENODEV;
	c->changed = 0;
	if (!t)
		return UNLOCK_NO_TPM;
	r = tpm_srk_check(t, tok);
	c->state = unlock_diff(t, tok, &c->now, &c->changed);
	if (r == -EKEYREJECTED)
		return UNLOCK_OTHER_TPM;
	if (r == -ENODEV || c->state == -ENODEV)
		return UNLOCK_NO_TPM;
	if (r < 0 || (c->state < 0 && c->state != -ENOENT))
		return UNLOCK_UNREAD;
	if (token_authorized(tok)) {
		v = unlock_nv_verdict(t, tok);
		if (v != UNLOCK_APPROVED)
			return v;
	}
	v = unlock_pcr_verdict(tok, c->state, c->changed);
	/* Approved whatever it measures, but not past the fence: that still proves a boot. */
	if (v != UNLOCK_APPROVED && tok->next_boot && !(c->changed & token_fence_pcrs(tok)) &&
	    tpm_reset_count(t, &reset) == 0 && reset == tok->next_boot_reset)
		return UNLOCK_NEXT_BOOT;
	return v;
}

const char *unlock_reason(enum unlock_verdict v, const struct token *tok,
			  const struct unlock_check *c, char *buf, size_t size)
{
	const char *text = NULL;
	char pcrs[512];

	switch (v) {
	case UNLOCK_APPROVED:
		snprintf(buf, size, "the PCRs match approved state %d", c->state + 1);
		break;
	case UNLOCK_NEXT_BOOT:
		text = "approved for this boot whatever it measures";
		break;
	case UNLOCK_NO_TPM:
		text = "no TPM reachable";
		break;
	case UNLOCK_OTHER_TPM:
		text = "the volume was enrolled with another TPM";
		break;
	case UNLOCK_UNREAD:
		text = "the TPM could not be queried";
		break;
	case UNLOCK_NV_GONE:
		snprintf(buf, size,
			 "the TPM no longer holds the token's NV index 0x%08x (it was undefined, "
			 "or the TPM was cleared)",
			 tok->nv_index);
		break;
	case UNLOCK_NV_LOCKED:
		text = "the TPM's owner hierarchy now has a password, so the TPM no longer lets "
		       "anyone read the token's NV index";
		break;
	case UNLOCK_REVOKED:
		text = "the TPM's NV index approves other states: this token's approved states "
		       "were replaced since this header was written (revoked; a restored old "
		       "header?)";
		break;
	case UNLOCK_COMBINATION:
		pcr_describe(tok->pcr_mask, pcrs, sizeof(pcrs));
		snprintf(buf, size, "the combination of %s matches no approved state as a whole",
			 pcrs);
		break;
	case UNLOCK_FENCE:
	case UNLOCK_CHANGED:
		pcr_describe(c->changed, pcrs, sizeof(pcrs));
		snprintf(buf, size, "%s %s", pcrs,
			 v == UNLOCK_FENCE ? "left its reset value" : "changed since enrollment");
		break;
	}
	if (text)
		snprintf(buf, size, "%s", text);
	return buf;
}

/* Why the TPM refused tpm_unseal()'s r, in one line with what to do. */
static void explain_refusal(struct tpm *t, const struct token *tok, int r)
{
	struct unlock_check c = { .state = -ENOENT };
	enum unlock_verdict v;
	const char *todo = "unlock with the passphrase, then approve this boot with oyster reseal";
	char buf[640];

	if (r == -ENXIO) {
		v = unlock_nv_verdict(t, tok);
	} else {
		c.state = unlock_diff(t, tok, &c.now, &c.changed);
		v = unlock_pcr_verdict(tok, c.state, c.changed);
		/* PolicyAuthorizeNV refused a state this header approves: the index moved on. */
		if (r == -ESTALE && v == UNLOCK_APPROVED)
			v = UNLOCK_REVOKED;
	}
	switch (v) {
	case UNLOCK_APPROVED:
		/* The values match an approved state, yet the TPM said no. */
		log_err("The TPM refused to unseal although the PCRs match an enrolled state; "
			"unlock with the passphrase and enroll again.");
		return;
	case UNLOCK_UNREAD:
		log_err("The TPM refused to unseal: the measured boot state changed; %s.", todo);
		return;
	case UNLOCK_FENCE:
		/* At boot the fence's PCR has not been extended yet: a change there is no fence. */
		v = UNLOCK_CHANGED;
		break;
	case UNLOCK_NV_GONE:
		todo = "unlock with the passphrase and enroll again";
		break;
	case UNLOCK_NV_LOCKED:
	case UNLOCK_REVOKED:
		todo = "unlock with the passphrase";
		break;
	default:
		break;
	}
	log_err("The TPM refused: %s; %s.", unlock_reason(v, tok, &c, buf, sizeof(buf)), todo);
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
	if (r == -EPERM || r == -ESTALE || r == -ENXIO) {
		explain_refusal(t, tok, r);
		r = -EPERM;
	} else if (r == -EACCES || r == -EBUSY)
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
