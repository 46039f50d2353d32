// SPDX-License-Identifier: LGPL-2.1-or-later
/* The approved-state algebra (lib/states.c), without a TPM. */
#include <errno.h>
#include <string.h>

#include <tss2/tss2_tpm2_types.h>

#include "states.h"
#include "test.h"

static struct token old, tok;

static void fill(struct pcr_state *s, uint8_t v)
{
	memset(s, v, sizeof(*s));
}

static void test_same_and_add(void)
{
	struct pcr_state a, b;

	memset(&tok, 0, sizeof(tok));
	tok.bank = TPM2_ALG_SHA256;
	tok.pcr_mask = 1u << 7;
	fill(&a, 1);
	b = a;
	b.value[3][0] = 9; /* a PCR the token does not bind */
	CHECK(states_same(&tok, &a, &b), "unbound PCRs must not count");
	b.value[7][31] = 9;
	CHECK(!states_same(&tok, &a, &b), "a bound PCR differs");
	CHECK(states_add(&tok, &a, TOKEN_ORIGIN_ADDED, 0, NULL) == 0 && tok.n_states == 1,
	      "first state");
	CHECK(states_add(&tok, &a, TOKEN_ORIGIN_ADDED, 0, NULL) == 0 && tok.n_states == 1,
	      "a repeat is no new state");
	CHECK(states_add(&tok, &b, TOKEN_ORIGIN_ADDED, 0, NULL) == 0 && tok.n_states == 2,
	      "second state");
	for (unsigned i = 2; i < OYSTER_MAX_STATES; i++) {
		b.value[7][0] = (uint8_t)(0x40 + i);
		CHECK(states_add(&tok, &b, TOKEN_ORIGIN_ADDED, 0, NULL) == 0, "state %u", i);
	}
	b.value[7][0] = 0xff;
	CHECK(states_add(&tok, &b, TOKEN_ORIGIN_ADDED, 0, NULL) == -E2BIG &&
		      tok.n_states == OYSTER_MAX_STATES,
	      "a full token refuses");
}

static void test_spec(void)
{
	struct pcr_state s;

	memset(&tok, 0, sizeof(tok));
	tok.bank = TPM2_ALG_SHA256;
	tok.pcr_mask = (1u << 7) | (1u << 4);
	fill(&s, 0);
	CHECK(states_apply_spec(&tok,
				"7:sha256="
				"0101010101010101010101010101010101010101010101010101010101010101",
				&s) == 0 &&
		      s.value[7][0] == 1 && s.value[4][0] == 0,
	      "one PCR");
	CHECK(states_apply_spec(
		      &tok,
		      "4:sha256="
		      "0202020202020202020202020202020202020202020202020202020202020202,7:sha256="
		      "0303030303030303030303030303030303030303030303030303030303030303",
		      &s) == 0 &&
		      s.value[4][0] == 2 && s.value[7][0] == 3,
	      "two PCRs");
	CHECK(states_apply_spec(&tok,
				"0:sha256="
				"0202020202020202020202020202020202020202020202020202020202020202",
				&s) == -EINVAL,
	      "a PCR the token does not bind");
	CHECK(states_apply_spec(&tok, "7:sha1=0202020202020202020202020202020202020202", &s) ==
		      -EINVAL,
	      "another bank");
	CHECK(states_apply_spec(&tok, "7:sha256=02", &s) == -EINVAL, "short value");
	CHECK(states_apply_spec(&tok, "7=sha256:00", &s) == -EINVAL, "garbled");
	CHECK(states_apply_spec(&tok,
				"+7:sha256="
				"0202020202020202020202020202020202020202020202020202020202020202",
				&s) == -EINVAL,
	      "sign");
}

static void test_init(void)
{
	struct pcr_state now;
	bool fenced = true;

	fill(&now, 5);
	memset(&tok, 0, sizeof(tok));
	states_init(&tok, TPM2_ALG_SHA256, 1u << 7, -1, &now, 0, &fenced);
	CHECK(!fenced && tok.n_states == 1 && tok.pcr_mask == 1u << 7 &&
		      tok.states[0].value[7][0] == 5,
	      "no fence");
	states_init(&tok, TPM2_ALG_SHA256, 1u << 7, 15, &now, 0, &fenced);
	CHECK(fenced && tok.pcr_mask == ((1u << 7) | (1u << 15)) &&
		      tok.states[0].value[15][0] == 0 && tok.states[0].value[7][0] == 5,
	      "fence extended: zero in the state, fenced now");
	CHECK(token_fence_pcrs(&tok) == 1u << 15, "fence PCRs");
	memset(now.value[15], 0, sizeof(now.value[15]));
	states_init(&tok, TPM2_ALG_SHA256, 1u << 7, 15, &now, 0, &fenced);
	CHECK(!fenced, "fence open");
}

static void test_change(void)
{
	struct pcr_state now, pred;
	struct states_change c = { .now = &now, .reset_count = 4 };
	bool now_ok = false;

	fill(&now, 5);
	memset(&old, 0, sizeof(old));
	states_init(&old, TPM2_ALG_SHA256, 1u << 7, 15, &now, 0, &now_ok);
	memset(now.value[15], 0, sizeof(now.value[15]));

	/* The same state of now: nothing to write. */
	tok = old;
	CHECK(states_change(&old, &c, &tok, &now_ok) == 0 && now_ok && states_unchanged(&old, &tok),
	      "reseal in the same state");

	/* --add-state keeps the old ones. */
	c.keep = true;
	c.add_spec = "7:sha256=0909090909090909090909090909090909090909090909090909090909090909";
	tok = old;
	CHECK(states_change(&old, &c, &tok, &now_ok) == 0 && tok.n_states == 2 &&
		      tok.states[1].value[7][0] == 9 && tok.states[1].value[15][0] == 0 &&
		      !states_unchanged(&old, &tok),
	      "add-state");
	c.add_spec = "7:sha256=zz";
	CHECK(states_change(&old, &c, &tok, &now_ok) == -EDOM, "bad add-state");
	c.add_spec = NULL;

	/* --predict: only the changed PCRs, never the fence. */
	fill(&pred, 7);
	c.predicted = &pred;
	c.predicted_mask = (1u << 7) | (1u << 15);
	tok = old;
	CHECK(states_change(&old, &c, &tok, &now_ok) == 0 && tok.n_states == 2 &&
		      tok.states[1].value[7][0] == 7 && tok.states[1].value[15][0] == 0,
	      "predict");
	c.predicted = NULL;

	/* --next-boot: the next reset count. */
	c.next_boot = true;
	tok = old;
	CHECK(states_change(&old, &c, &tok, &now_ok) == 0 && tok.next_boot &&
		      tok.next_boot_reset == 5,
	      "next-boot");
	old = tok;
	c.reset_count = UINT32_MAX;
	CHECK(states_change(&old, &c, &tok, &now_ok) == -ERANGE, "last reset count");

	/* --prune keeps a next-boot approval still to come, drops a used one. */
	c = (struct states_change){ .now = &now, .reset_count = 4, .prune = true };
	tok = old;
	CHECK(states_change(&old, &c, &tok, &now_ok) == 0 && tok.next_boot && tok.n_states == 1,
	      "prune before the approved boot");
	c.reset_count = 5;
	tok = old;
	CHECK(states_change(&old, &c, &tok, &now_ok) == 0 && !tok.next_boot, "prune on it");

	/* Whether the boot of now is approved: a state (fence at zero), or the next boot's. */
	old.next_boot = false;
	CHECK(states_approve_now(&old, &now, 4), "the state of now is approved");
	now.value[15][0] = 1;
	CHECK(states_approve_now(&old, &now, 4), "fenced: still the approved state");
	now.value[7][0] = 0x77;
	CHECK(!states_approve_now(&old, &now, 4), "another state is not approved");
	old.next_boot = true;
	old.next_boot_reset = 5;
	CHECK(states_approve_now(&old, &now, 5) && !states_approve_now(&old, &now, 6),
	      "the next-boot approval covers its boot only");
	now.value[7][0] = 5;
	old.next_boot = false;

	/* Fenced now: the state of now is approved with the fence at zero, not provable. */
	now.value[15][0] = 1;
	c = (struct states_change){ .now = &now, .reset_count = 4 };
	tok = old;
	CHECK(states_change(&old, &c, &tok, &now_ok) == 0 && !now_ok &&
		      tok.states[0].value[15][0] == 0,
	      "fenced now");
}

int main(void)
{
	test_same_and_add();
	test_spec();
	test_init();
	test_change();
	return test_done();
}
