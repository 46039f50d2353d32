// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The algebra of a token's approved states: add, prune, fence, and what a reseal
 * changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "log.h"
#include "states.h"

bool states_same(const struct token *tok, const struct pcr_state *a, const struct pcr_state *b)
{
	return !pcr_state_diff(a, b, tok->pcr_mask, pcr_bank_digest_size(tok->bank));
}

int states_add(struct token *tok, const struct pcr_state *state, unsigned kind, time_t when,
	       const char *note)
{
	struct token_origin *o;

	for (unsigned s = 0; s < tok->n_states; s++)
		if (states_same(tok, &tok->states[s], state))
			return 0;
	if (tok->n_states == token_max_states(tok)) {
		log_err("A token holds at most %u approved states; run oyster reseal --prune "
			"first.",
			token_max_states(tok));
		return -E2BIG;
	}
	o = &tok->origins[tok->n_states];
	o->kind = kind;
	o->when = when;
	o->note[0] = '\0';
	/* Printable ASCII only, as the token format wants. */
	for (size_t i = 0; note && note[i] && i < OYSTER_NOTE_MAX; i++) {
		o->note[i] = note[i] >= 0x20 && note[i] <= 0x7e ? note[i] : '?';
		o->note[i + 1] = '\0';
	}
	tok->states[tok->n_states++] = *state;
	return 0;
}

static bool parse_pcr(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v >= OYSTER_PCR_COUNT)
		return false;
	*out = (unsigned)v;
	return true;
}

int states_apply_spec(const struct token *tok, const char *spec, struct pcr_state *state)
{
	size_t size = pcr_bank_digest_size(tok->bank);
	char *copy = strdup(spec), *item, *save = NULL;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (item = strtok_r(copy, ",", &save); item && r == 0; item = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(item, ':'), *eq = strchr(item, '=');
		unsigned pcr;
		size_t n;

		r = -EINVAL;
		if (!colon || !eq || eq < colon)
			break;
		*colon = *eq = '\0';
		if (!parse_pcr(item, &pcr) || !(tok->pcr_mask & (1u << pcr)) ||
		    pcr_bank_from_name(colon + 1) != tok->bank ||
		    hex_decode(eq + 1, state->value[pcr], size, &n) < 0 || n != size)
			break;
		r = 0;
	}
	free(copy);
	return r;
}

void states_unfenced(const struct token *tok, uint32_t fence, const struct pcr_state *now,
		     struct pcr_state *out)
{
	size_t size = pcr_bank_digest_size(tok->bank);

	*out = *now;
	FOREACH_PCR_IN_MASK(pcr, fence)
		memset(out->value[pcr], 0, size);
}

void states_init(struct token *tok, uint16_t bank, uint32_t mask, int fence,
		 const struct pcr_state *now, time_t when, bool *fenced)
{
	tok->bank = bank;
	tok->pcr_mask = mask | (fence >= 0 ? 1u << fence : 0);
	tok->n_states = 1;
	tok->next_boot = false;
	states_unfenced(tok, fence >= 0 ? 1u << fence : 0, now, &tok->states[0]);
	memset(&tok->origins[0], 0, sizeof(tok->origins[0]));
	tok->origins[0].kind = TOKEN_ORIGIN_ENROLLED;
	tok->origins[0].when = when;
	*fenced = !states_same(tok, now, &tok->states[0]);
}

int states_change(const struct token *old, const struct states_change *c, struct token *tok,
		  bool *now_approved)
{
	size_t size = pcr_bank_digest_size(old->bank);
	uint32_t fence = token_fence_pcrs(old);
	struct pcr_state today;
	int r;

	states_unfenced(old, fence, c->now, &today);
	*now_approved = states_same(old, c->now, &today);

	/* Adding keeps what was approved; a plain reseal or --prune starts over from now. */
	tok->n_states = 0;
	tok->next_boot = false;
	if (c->keep) {
		for (unsigned s = 0; s < old->n_states; s++) {
			tok->origins[tok->n_states] = old->origins[s];
			tok->states[tok->n_states++] = old->states[s];
		}
		tok->next_boot = old->next_boot;
		tok->next_boot_reset = old->next_boot_reset;
	}
	/*
	 * --prune drops what this boot did not use. A next-boot approval for a
	 * boot still to come was not for this one: it stays (a plain reseal
	 * drops it). The boot it was for has used it up.
	 */
	if (c->prune && old->next_boot && c->reset_count < old->next_boot_reset) {
		tok->next_boot = true;
		tok->next_boot_reset = old->next_boot_reset;
	}
	r = states_add(tok, &today, TOKEN_ORIGIN_BOOTED, c->when, NULL);
	/*
	 * A state of now that was approved before keeps what it stood for (its
	 * note, or enrolled); one predicted or added has now been booted.
	 */
	for (unsigned s = 0; s < old->n_states && tok->n_states && !c->keep; s++)
		if (states_same(old, &old->states[s], &tok->states[0])) {
			tok->origins[0] = old->origins[s];
			if (old->origins[s].kind != TOKEN_ORIGIN_ENROLLED) {
				tok->origins[0].kind = TOKEN_ORIGIN_BOOTED;
				tok->origins[0].when = c->when;
			}
		}
	if (r == 0 && c->add_spec) {
		struct pcr_state extra = today;

		if (states_apply_spec(old, c->add_spec, &extra) < 0)
			return -EDOM;
		r = states_add(tok, &extra, TOKEN_ORIGIN_ADDED, c->when, NULL);
	}
	if (r == 0 && c->predicted) {
		struct pcr_state extra = today;

		pcr_state_copy(&extra, c->predicted, c->predicted_mask & old->pcr_mask & ~fence,
			       size);
		r = states_add(tok, &extra, TOKEN_ORIGIN_PREDICTED, c->when, c->predicted_note);
	}
	if (r == 0 && c->next_boot) {
		if (c->reset_count == UINT32_MAX)
			return -ERANGE;
		tok->next_boot = true;
		tok->next_boot_reset = c->reset_count + 1;
	}
	if (r == 0 && tok->next_boot && tok->n_states >= token_max_states(tok)) {
		log_err("A token holds at most %u approved states with the next boot; run oyster "
			"reseal --prune first.",
			token_max_states(tok) - 1);
		r = -E2BIG;
	}
	return r;
}

bool states_approve_now(const struct token *old, const struct pcr_state *now, uint32_t reset_count)
{
	struct pcr_state today;

	states_unfenced(old, token_fence_pcrs(old), now, &today);
	for (unsigned s = 0; s < old->n_states; s++)
		if (states_same(old, &old->states[s], &today))
			return true;
	return old->next_boot && reset_count == old->next_boot_reset;
}

bool states_unchanged(const struct token *old, const struct token *tok)
{
	if (old->n_states != tok->n_states || old->next_boot != tok->next_boot ||
	    (old->next_boot && old->next_boot_reset != tok->next_boot_reset))
		return false;
	for (unsigned s = 0; s < old->n_states; s++)
		if (!states_same(old, &old->states[s], &tok->states[s]))
			return false;
	return true;
}
