/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_STATES_H
#define OYSTER_STATES_H

/*
 * The approved-state algebra of a token, without a TPM: what enroll and
 * reseal approve, given the PCR values of now (read by the caller).
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "pcr.h"
#include "token.h"

/* a and b hold the same value in every PCR the token binds. */
bool states_same(const struct token *tok, const struct pcr_state *a, const struct pcr_state *b);
/*
 * Approves state unless it is approved already, recording where it comes
 * from (note may be NULL); -E2BIG (logged) when the token is full.
 */
int states_add(struct token *tok, const struct pcr_state *state, unsigned kind, time_t when,
	       const char *note);
/* PCR:BANK=HEX[,PCR:BANK=HEX...] onto state; -EINVAL unless each PCR is one tok binds in its bank.
 */
int states_apply_spec(const struct token *tok, const char *spec, struct pcr_state *state);
/* now with the fence PCRs at their reset value (zeros). */
void states_unfenced(const struct token *tok, uint32_t fence, const struct pcr_state *now,
		     struct pcr_state *out);

/*
 * A new token's one state: bank and mask (plus the fence PCR when fence >= 0)
 * at the values of now, the fence PCR at zero. *fenced tells that the fence
 * PCR is extended now (the token cannot be proven before a reboot). The
 * token's version, PIN and blobs are the caller's.
 */
void states_init(struct token *tok, uint16_t bank, uint32_t mask, int fence,
		 const struct pcr_state *now, time_t when, bool *fenced);

/* What reseal changes: everything the TPM said is in here. */
struct states_change {
	const struct pcr_state *now; /* the token's PCRs, as read */
	uint32_t reset_count;	     /* the TPM's reset count of now */
	bool keep;		     /* add to the approved states (else start over from now) */
	bool prune;		     /* keep a next-boot approval for a boot still to come */
	const char *add_spec;	     /* --add-state, or NULL */
	const struct pcr_state *predicted; /* --predict: the next boot's values, or NULL */
	uint32_t predicted_mask;	   /* the PCRs it changes */
	bool next_boot;			   /* approve the boot of reset count reset_count + 1 */
	time_t when;			   /* of the approval */
	const char *predicted_note;	   /* what was predicted (a kernel's name), or NULL */
};

/*
 * The approved states of tok after change c to old (tok starts as a copy of
 * old); *now_approved tells that the state of now is among them as read
 * (not fenced), so the result can be proven at once. -EDOM for a bad
 * add_spec, -E2BIG when the token is full, -ERANGE at the last reset count.
 */
int states_change(const struct token *old, const struct states_change *c, struct token *tok,
		  bool *now_approved);
/*
 * Whether old approves the boot of now: the values of now (fence PCRs at
 * zero) are one of its states, or its next-boot approval is for this boot
 * (reset_count). What the TPM would unseal for, without asking it.
 */
bool states_approve_now(const struct token *old, const struct pcr_state *now, uint32_t reset_count);
/* The token approves what old did (no write needed). */
bool states_unchanged(const struct token *old, const struct token *tok);

#endif
