// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The token is a wire format: every valid token must survive emit and parse
 * unchanged, and every malformed one, each produced by breaking one field of
 * a valid token, must be refused with a reason that names that field.
 */
#include <errno.h>
#include <stdint.h>

#include <json-c/json.h>
#include <tss2/tss2_mu.h>

#include "encode.h"
#include "pcr.h"
#include "policy.h"
#include "token.h"
#include "test.h"

#define CREATED 1795705200 /* 2026-11-26T15:00:00Z */
#define PCRS_0_7 ((1u << 0) | (1u << 7))

/* The token every malformed case starts from. */
static char *valid_json;

/* The template of docs/token-format.md; with a PIN, wrong guesses count against lockout. */
static void make_public(TPM2B_PUBLIC *pub, const uint8_t policy[OYSTER_POLICY_SIZE], bool pin)
{
	memset(pub, 0, sizeof(*pub));
	pub->publicArea.type = TPM2_ALG_KEYEDHASH;
	pub->publicArea.nameAlg = TPM2_ALG_SHA256;
	pub->publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT;
	if (!pin)
		pub->publicArea.objectAttributes |= TPMA_OBJECT_NODA;
	pub->publicArea.authPolicy.size = OYSTER_POLICY_SIZE;
	memcpy(pub->publicArea.authPolicy.buffer, policy, OYSTER_POLICY_SIZE);
	pub->publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	pub->publicArea.unique.keyedHash.size = 32;
	memset(pub->publicArea.unique.keyedHash.buffer, 0xa5, 32);
}

static size_t marshal_public(const TPM2B_PUBLIC *pub, uint8_t *buf, size_t size)
{
	size_t off = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, size, &off) != TSS2_RC_SUCCESS) {
		fprintf(stderr, "cannot marshal a TPM2B_PUBLIC\n");
		exit(99);
	}
	return off;
}

/* A made-up TPM2B_PRIVATE of size bytes in all. */
static void set_private(struct token *tok, size_t size)
{
	TPM2B_PRIVATE priv = { .size = (uint16_t)(size - 2) };
	size_t off = 0, i;

	for (i = 0; i < priv.size; i++)
		priv.buffer[i] = (uint8_t)(3 * i + 1);
	if (Tss2_MU_TPM2B_PRIVATE_Marshal(&priv, tok->private_blob, sizeof(tok->private_blob),
					  &off) != TSS2_RC_SUCCESS ||
	    off != size) {
		fprintf(stderr, "cannot marshal a TPM2B_PRIVATE\n");
		exit(99);
	}
	tok->private_len = off;
}

/* A well-formed token with made-up blobs whose authPolicy matches its states. */
static void make_token(struct token *tok, int keyslot, uint16_t bank, uint32_t mask,
		       unsigned n_states, uint32_t srk_handle, bool pin)
{
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
	TPM2B_PUBLIC pub;
	unsigned i, pcr, k;

	memset(tok, 0, sizeof(*tok));
	tok->version = OYSTER_TOKEN_VERSION;
	tok->keyslot = keyslot;
	tok->bank = bank;
	tok->pcr_mask = mask;
	tok->n_states = n_states;
	for (i = 0; i < n_states; i++) {
		for (pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++) {
			if (!(mask & (1u << pcr)))
				continue;
			for (k = 0; k < pcr_bank_digest_size(bank); k++)
				tok->states[i].value[pcr][k] = (uint8_t)(16 * i + pcr + 7 * k);
		}
	}
	if (policy_for_token(bank, mask, tok->states, n_states, pin, branches, tok->policy) < 0) {
		fprintf(stderr, "policy_for_token failed\n");
		exit(99);
	}
	make_public(&pub, tok->policy, pin);
	tok->public_len = marshal_public(&pub, tok->public_blob, sizeof(tok->public_blob));
	set_private(tok, 48);
	tok->srk_handle = srk_handle;
	tok->srk_name[0] = 0x00;
	tok->srk_name[1] = 0x0b;
	for (i = 2; i < 34; i++)
		tok->srk_name[i] = (uint8_t)(0xc0 + i);
	tok->srk_name_len = 34;
	tok->pin = pin;
	if (pin) {
		tok->pin_salt_len = 16;
		for (i = 0; i < tok->pin_salt_len; i++)
			tok->pin_salt[i] = (uint8_t)(0x50 + i);
		tok->pin_iterations = 100000;
	}
	tok->created = CREATED;
}

static void check_same(const struct token *a, const struct token *b, const char *what)
{
	size_t size = pcr_bank_digest_size(a->bank);
	unsigned i, pcr;
	bool states_same = true;

	CHECK(a->version == b->version, "%s: version", what);
	CHECK(a->keyslot == b->keyslot, "%s: keyslot %d != %d", what, a->keyslot, b->keyslot);
	CHECK(a->private_len == b->private_len &&
		      !memcmp(a->private_blob, b->private_blob, a->private_len),
	      "%s: private blob", what);
	CHECK(a->public_len == b->public_len &&
		      !memcmp(a->public_blob, b->public_blob, a->public_len),
	      "%s: public blob", what);
	CHECK(a->srk_handle == b->srk_handle, "%s: SRK handle", what);
	CHECK(a->srk_name_len == b->srk_name_len &&
		      !memcmp(a->srk_name, b->srk_name, a->srk_name_len),
	      "%s: SRK name", what);
	CHECK(a->bank == b->bank, "%s: bank", what);
	CHECK(a->pcr_mask == b->pcr_mask, "%s: PCR mask %#x != %#x", what, a->pcr_mask,
	      b->pcr_mask);
	CHECK(a->n_states == b->n_states, "%s: %u states != %u", what, a->n_states, b->n_states);
	for (i = 0; i < a->n_states && i < OYSTER_MAX_STATES; i++) {
		for (pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++) {
			if ((a->pcr_mask & (1u << pcr)) &&
			    memcmp(a->states[i].value[pcr], b->states[i].value[pcr], size))
				states_same = false;
		}
	}
	CHECK(states_same, "%s: state values", what);
	CHECK(!memcmp(a->policy, b->policy, OYSTER_POLICY_SIZE), "%s: policy", what);
	CHECK(a->pin == b->pin, "%s: PIN", what);
	CHECK(a->pin_salt_len == b->pin_salt_len &&
		      !memcmp(a->pin_salt, b->pin_salt, a->pin_salt_len),
	      "%s: PIN salt", what);
	CHECK(a->pin_iterations == b->pin_iterations, "%s: PIN iterations", what);
	CHECK(a->n_events == b->n_events &&
		      !memcmp(a->events, b->events, a->n_events * sizeof(a->events[0])),
	      "%s: events (%u, %u)", what, a->n_events, b->n_events);
	CHECK(a->created == b->created, "%s: created", what);
}

static void round_trip(const struct token *tok, const char *what)
{
	struct token *back = malloc(sizeof(*back));
	char *json = NULL, *again = NULL;
	const char *why = NULL;
	int r;

	if (!back)
		exit(99);
	r = token_emit(tok, &json);
	CHECK(r == 0 && json, "%s: token_emit: %d", what, r);
	if (r == 0) {
		r = token_parse(json, back, &why);
		CHECK(r == 0, "%s: token_parse: %d (%s)\n%s", what, r, why ? why : "-", json);
		CHECK(r != 0 || !why, "%s: why set on success", what);
		if (r == 0)
			check_same(tok, back, what);
		/* Emitting the parsed token gives back the same text. */
		r = token_emit(back, &again);
		CHECK(r == 0 && again && !strcmp(json, again), "%s: second emit differs", what);
	}
	free(again);
	free(json);
	free(back);
}

static void test_round_trip(void)
{
	struct token tok;

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	round_trip(&tok, "sha256 0+7, two states");
	make_token(&tok, 0, TPM2_ALG_SHA256, 1u << 7, 1, OYSTER_SRK_TRANSIENT, true);
	round_trip(&tok, "one state, transient SRK, PIN");
	make_token(&tok, 31, TPM2_ALG_SHA512, (1u << OYSTER_PCR_COUNT) - 1, OYSTER_MAX_STATES,
		   OYSTER_SRK_PERSISTENT, false);
	set_private(&tok, OYSTER_MAX_PRIVATE);
	round_trip(&tok, "largest token: sha512, all PCRs, eight states, 1024-byte private");
	make_token(&tok, 5, TPM2_ALG_SHA1, (1u << 4) | (1u << 23), 3, OYSTER_SRK_PERSISTENT, false);
	round_trip(&tok, "sha1 4+23");
	make_token(&tok, 2, TPM2_ALG_SHA384, 1u << 11, 2, OYSTER_SRK_PERSISTENT, false);
	tok.created = 0;
	round_trip(&tok, "sha384, created at the epoch");
}

/* n events for each PCR of mask, in the order tpm2_events keeps them. */
static void add_events(struct token *tok, uint32_t mask, unsigned n)
{
	for (unsigned pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++) {
		if (!(mask & (1u << pcr)))
			continue;
		for (unsigned i = 0; i < n && tok->n_events < OYSTER_EVENTS_MAX; i++) {
			struct token_event *ev = &tok->events[tok->n_events++];

			memset(ev, 0, sizeof(*ev));
			ev->pcr = (uint8_t)pcr;
			ev->type = i % 2 ? 0x80000003u : 0x0000000du;
			for (unsigned k = 0; k < OYSTER_EVENT_DIGEST; k++)
				ev->digest[k] = (uint8_t)(pcr * 31 + i * 7 + k);
		}
	}
}

/* tpm2_events: optional, round-trips, bounded; tokens without it are unchanged. */
static void test_events(void)
{
	struct token tok, *back = malloc(sizeof(*back));
	const char *why = NULL;
	char *json = NULL;
	struct json_object *root, *events, *arr;

	if (!back)
		exit(99);
	CHECK(token_parse(valid_json, back, &why) == 0 && back->n_events == 0,
	      "a token without tpm2_events: %s", why ? why : "events appeared");
	CHECK(!strstr(valid_json, "tpm2_events"), "tpm2_events emitted without events");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	add_events(&tok, PCRS_0_7, 3);
	round_trip(&tok, "events for PCRs 0 and 7");
	make_token(&tok, 1, TPM2_ALG_SHA1, 0xf, 1, OYSTER_SRK_PERSISTENT, true);
	add_events(&tok, 0x7, OYSTER_EVENTS_PER_PCR);
	CHECK(tok.n_events == OYSTER_EVENTS_MAX, "%u events", tok.n_events);
	round_trip(&tok, "the most events: 96");

	/* One more, for PCR 3: 97 in all. */
	if (token_emit(&tok, &json) == 0) {
		root = json_tokener_parse(json);
		if (!root || !json_object_object_get_ex(root, "tpm2_events", &events))
			exit(99);
		arr = json_object_new_array();
		json_object_array_add(arr, json_object_new_string("0000000d:0011223344556677"));
		json_object_object_add(events, "3", arr);
		why = NULL;
		CHECK(token_parse(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN),
				  back, &why) == -EINVAL &&
			      why && !strcmp(why, "tpm2_events: more than 96 events"),
		      "97 events: %s", why ? why : "accepted");
		json_object_put(root);
	}
	free(json);
	free(back);
}

static void emit_refused(const struct token *tok, const char *what)
{
	char *json = NULL;

	CHECK(token_emit(tok, &json) == -EINVAL && !json, "emit %s", what);
	free(json);
}

static void test_emit_refuses(void)
{
	struct token tok;

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.policy[0] ^= 1;
	emit_refused(&tok, "with a stale policy");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.states[1].value[7][0] ^= 1;
	emit_refused(&tok, "with a changed state");

	make_token(&tok, 32, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	emit_refused(&tok, "with keyslot 32");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.n_states = OYSTER_MAX_STATES + 1;
	emit_refused(&tok, "with nine states");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.private_len = OYSTER_MAX_PRIVATE + 1;
	emit_refused(&tok, "with an oversized private blob");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.version = 2;
	emit_refused(&tok, "version 2");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.srk_handle = 0x81000002;
	emit_refused(&tok, "SRK 0x81000002");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.bank = 0;
	emit_refused(&tok, "an unknown bank");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.pcr_mask |= 1u << 24;
	emit_refused(&tok, "PCR 24");

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	tok.created = -1;
	emit_refused(&tok, "a creation time before 1970");
}

/* Malformed tokens: valid_json with one change. */

static void set(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val || json_object_object_add(obj, key, val) < 0)
		exit(99);
}

static void set_string(struct json_object *root, const char *key, const char *s)
{
	set(root, key, json_object_new_string(s));
}

static void set_base64(struct json_object *root, const char *key, const uint8_t *in, size_t n)
{
	char buf[4096];

	if (base64_encode(in, n, buf, sizeof(buf)) < 0)
		exit(99);
	set_string(root, key, buf);
}

static void set_public(struct json_object *root, void (*change)(TPM2B_PUBLIC *pub))
{
	struct token tok;
	TPM2B_PUBLIC pub;
	uint8_t buf[OYSTER_MAX_PUBLIC];
	size_t len;

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	make_public(&pub, tok.policy, false);
	change(&pub);
	len = marshal_public(&pub, buf, sizeof(buf));
	set_base64(root, "tpm2_public", buf, len);
}

static void pub_rsa(TPM2B_PUBLIC *pub)
{
	pub->publicArea.type = TPM2_ALG_RSA;
	pub->publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	pub->publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
	pub->publicArea.parameters.rsaDetail.keyBits = 2048;
	pub->publicArea.unique.rsa.size = 0;
}

static void pub_sha1(TPM2B_PUBLIC *pub)
{
	pub->publicArea.nameAlg = TPM2_ALG_SHA1;
}

static void pub_policy(TPM2B_PUBLIC *pub)
{
	pub->publicArea.authPolicy.buffer[5] ^= 0x10;
}

static void pub_no_policy(TPM2B_PUBLIC *pub)
{
	pub->publicArea.authPolicy.size = 0;
}

static void pub_user_with_auth(TPM2B_PUBLIC *pub)
{
	pub->publicArea.objectAttributes |= TPMA_OBJECT_USERWITHAUTH;
}

static void pub_not_fixed(TPM2B_PUBLIC *pub)
{
	pub->publicArea.objectAttributes &= ~TPMA_OBJECT_FIXEDTPM;
}

static void pub_reserved_bit(TPM2B_PUBLIC *pub)
{
	pub->publicArea.objectAttributes |= 0x80000000;
}

static void pub_admin_with_policy(TPM2B_PUBLIC *pub)
{
	pub->publicArea.objectAttributes |= TPMA_OBJECT_ADMINWITHPOLICY;
}

static void pub_hmac_key(TPM2B_PUBLIC *pub)
{
	pub->publicArea.objectAttributes |= TPMA_OBJECT_SIGN_ENCRYPT;
	pub->publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
	pub->publicArea.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA256;
}

static void m_public_rsa(struct json_object *root)
{
	set_public(root, pub_rsa);
}

static void m_public_sha1(struct json_object *root)
{
	set_public(root, pub_sha1);
}

static void m_public_policy(struct json_object *root)
{
	set_public(root, pub_policy);
}

static void m_public_no_policy(struct json_object *root)
{
	set_public(root, pub_no_policy);
}

static void m_public_user_with_auth(struct json_object *root)
{
	set_public(root, pub_user_with_auth);
}

static void m_public_not_fixed(struct json_object *root)
{
	set_public(root, pub_not_fixed);
}

static void m_public_reserved_bit(struct json_object *root)
{
	set_public(root, pub_reserved_bit);
}

static void m_public_admin_with_policy(struct json_object *root)
{
	set_public(root, pub_admin_with_policy);
}

static void m_public_hmac_key(struct json_object *root)
{
	set_public(root, pub_hmac_key);
}

/* The decoded blob of a base64 field, changed in length. */
static void resize_blob(struct json_object *root, const char *key, int delta)
{
	struct json_object *val;
	uint8_t buf[2048];
	size_t len;

	if (!json_object_object_get_ex(root, key, &val) ||
	    base64_decode(json_object_get_string(val), buf, sizeof(buf) - 1, &len) < 0)
		exit(99);
	if (delta > 0)
		buf[len] = 0;
	set_base64(root, key, buf, len + (size_t)delta);
}

static void m_public_trailing(struct json_object *root)
{
	resize_blob(root, "tpm2_public", 1);
}

static void m_public_truncated(struct json_object *root)
{
	resize_blob(root, "tpm2_public", -1);
}

static void m_private_trailing(struct json_object *root)
{
	resize_blob(root, "tpm2_private", 1);
}

static void m_private_truncated(struct json_object *root)
{
	resize_blob(root, "tpm2_private", -1);
}

static void m_private_empty(struct json_object *root)
{
	static const uint8_t empty[2] = { 0, 0 };

	set_base64(root, "tpm2_private", empty, sizeof(empty));
}

/* A well-formed TPM2B_PRIVATE one byte over the limit, still within BASE64_LEN(limit). */
static void m_private_oversized(struct json_object *root)
{
	uint8_t buf[OYSTER_MAX_PRIVATE + 1] = { 0 };

	buf[0] = (OYSTER_MAX_PRIVATE - 1) >> 8;
	buf[1] = (OYSTER_MAX_PRIVATE - 1) & 0xff;
	set_base64(root, "tpm2_private", buf, sizeof(buf));
}

/* Text of n characters c, for fields that must be refused on length alone. */
static void set_long(struct json_object *root, const char *key, char c, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		exit(99);
	memset(s, c, n);
	s[n] = '\0';
	set_string(root, key, s);
	free(s);
}

static void m_private_long(struct json_object *root)
{
	set_long(root, "tpm2_private", 'A', BASE64_LEN(OYSTER_MAX_PRIVATE) + 4);
}

static void m_public_long(struct json_object *root)
{
	set_long(root, "tpm2_public", 'A', BASE64_LEN(OYSTER_MAX_PUBLIC) + 4);
}

static void m_private_huge(struct json_object *root)
{
	set_long(root, "tpm2_private", 'A', 1 << 20);
}

static void m_srk_name_long(struct json_object *root)
{
	set_long(root, "tpm2_srk_name", 'a', 4096);
}

static void m_policy_long(struct json_object *root)
{
	set_long(root, "tpm2_policy", '0', 66);
}

static void m_policy_zero(struct json_object *root)
{
	set_long(root, "tpm2_policy", '0', 64);
}

/* Change one character of a string field (mutating a copy). */
static void edit_string(struct json_object *obj, const char *key, size_t at, char c)
{
	struct json_object *val;
	char *s;

	if (!json_object_object_get_ex(obj, key, &val) ||
	    (size_t)json_object_get_string_len(val) <= at)
		exit(99);
	s = strdup(json_object_get_string(val));
	if (!s)
		exit(99);
	s[at] = s[at] == c ? (char)(c + 1) : c;
	set_string(obj, key, s);
	free(s);
}

static void m_policy_flip(struct json_object *root)
{
	edit_string(root, "tpm2_policy", 10, '5');
}

static void m_policy_upper(struct json_object *root)
{
	edit_string(root, "tpm2_policy", 0, 'A');
}

static void m_srk_name_sha1(struct json_object *root)
{
	edit_string(root, "tpm2_srk_name", 3, '4');
}

static void m_srk_name_bad_hex(struct json_object *root)
{
	edit_string(root, "tpm2_srk_name", 20, 'g');
}

static void m_srk_name_upper(struct json_object *root)
{
	edit_string(root, "tpm2_srk_name", 4, 'C');
}

static void m_srk_name_short(struct json_object *root)
{
	set_string(root, "tpm2_srk_name", "000b");
}

static void m_private_bad_base64(struct json_object *root)
{
	edit_string(root, "tpm2_private", 6, '*');
}

static void m_public_bad_base64(struct json_object *root)
{
	edit_string(root, "tpm2_public", 0, '=');
}

static void m_type_nul(struct json_object *root)
{
	set(root, "type", json_object_new_string_len("oyster-tpm2\0x", 13));
}

static void m_extra_field(struct json_object *root)
{
	set(root, "tpm2_extra", json_object_new_int(1));
}

static void m_extra_field_case(struct json_object *root)
{
	set(root, "Type", json_object_new_string(OYSTER_TOKEN_TYPE));
}

static struct json_object *state(struct json_object *root, size_t i)
{
	struct json_object *arr;

	if (!json_object_object_get_ex(root, "tpm2_states", &arr) ||
	    json_object_array_length(arr) <= i)
		exit(99);
	return json_object_array_get_idx(arr, i);
}

static void m_state_missing_pcr(struct json_object *root)
{
	json_object_object_del(state(root, 1), "7");
}

static void m_state_extra_pcr(struct json_object *root)
{
	struct json_object *val;

	if (!json_object_object_get_ex(state(root, 0), "7", &val))
		exit(99);
	set(state(root, 0), "8", json_object_get(val));
}

static void m_state_renamed_pcr(struct json_object *root)
{
	struct json_object *val;

	if (!json_object_object_get_ex(state(root, 0), "7", &val))
		exit(99);
	set(state(root, 0), "07", json_object_get(val));
	json_object_object_del(state(root, 0), "7");
}

static void m_state_short_value(struct json_object *root)
{
	set_long(state(root, 0), "7", 'a', 62);
}

static void m_state_long_value(struct json_object *root)
{
	set_long(state(root, 0), "7", 'a', 128);
}

static void m_state_huge_value(struct json_object *root)
{
	set_long(state(root, 0), "7", 'a', 40000);
}

static void m_state_bad_hex(struct json_object *root)
{
	edit_string(state(root, 0), "0", 9, 'x');
}

static void m_state_upper_hex(struct json_object *root)
{
	edit_string(state(root, 0), "0", 9, 'F');
}

static void m_state_int_value(struct json_object *root)
{
	set(state(root, 0), "7", json_object_new_int(7));
}

static void m_state_changed(struct json_object *root)
{
	edit_string(state(root, 1), "7", 0, '9');
}

static void m_state_not_object(struct json_object *root)
{
	struct json_object *arr;

	if (!json_object_object_get_ex(root, "tpm2_states", &arr) ||
	    json_object_array_put_idx(arr, 1, json_object_new_string("x")) < 0)
		exit(99);
}

static void m_state_nested(struct json_object *root)
{
	struct json_object *arr = json_object_new_array();

	struct json_object *inner = json_object_new_array();

	/* One level deeper than a version 2 token's tpm2_previous states. */
	if (!arr || !inner || json_object_array_add(inner, json_object_new_string("00")) < 0 ||
	    json_object_array_add(arr, inner) < 0)
		exit(99);
	set(state(root, 0), "7", arr);
}

static void m_states_nine(struct json_object *root)
{
	struct json_object *arr;
	int i;

	if (!json_object_object_get_ex(root, "tpm2_states", &arr))
		exit(99);
	for (i = 0; i < 7; i++) {
		if (json_object_array_add(arr, json_object_get(state(root, 0))) < 0)
			exit(99);
	}
}

#define SET(field, key, json)                                                                      \
	{                                                                                          \
		field, key, json, NULL                                                             \
	}
#define DEL(field, key)                                                                            \
	{                                                                                          \
		field, key, NULL, NULL                                                             \
	}
#define FN(field, change)                                                                          \
	{                                                                                          \
		field, NULL, NULL, change                                                          \
	}

static void m_33_events(struct json_object *root)
{
	struct json_object *events = json_object_new_object(), *arr = json_object_new_array();

	for (int i = 0; i < 33; i++)
		json_object_array_add(arr, json_object_new_string("80000003:0123456789abcdef"));
	json_object_object_add(events, "7", arr);
	set(root, "tpm2_events", events);
}

static const struct mutation {
	const char *field; /* what *why must mention */
	const char *key;   /* the top-level field replaced (value) or deleted (NULL value) */
	const char *value; /* JSON text */
	void (*change)(struct json_object *root); /* instead of key and value */
} mutations[] = {
	/* Each field missing or null. */
	DEL("type", "type"),
	DEL("keyslots", "keyslots"),
	DEL("oyster_version", "oyster_version"),
	DEL("tpm2_private", "tpm2_private"),
	DEL("tpm2_public", "tpm2_public"),
	DEL("tpm2_srk_handle", "tpm2_srk_handle"),
	DEL("tpm2_srk_name", "tpm2_srk_name"),
	DEL("tpm2_pcr_bank", "tpm2_pcr_bank"),
	DEL("tpm2_pcrs", "tpm2_pcrs"),
	DEL("tpm2_states", "tpm2_states"),
	DEL("tpm2_policy", "tpm2_policy"),
	DEL("tpm2_pin", "tpm2_pin"),
	DEL("created", "created"),
	SET("type", "type", "null"),
	SET("tpm2_states", "tpm2_states", "null"),
	SET("tpm2_pin", "tpm2_pin", "null"),

	SET("type", "type", "\"luks2-keyring\""),
	SET("type", "type", "\"OYSTER-TPM2\""),
	SET("type", "type", "\"oyster-tpm2 \""),
	SET("type", "type", "1"),
	FN("type", m_type_nul),

	SET("keyslots", "keyslots", "[]"),
	SET("keyslots", "keyslots", "[\"1\",\"2\"]"),
	SET("keyslots", "keyslots", "[\"1\",\"1\"]"),
	SET("keyslots", "keyslots", "[\"abc\"]"),
	SET("keyslots", "keyslots", "[\"32\"]"),
	SET("keyslots", "keyslots", "[\"-1\"]"),
	SET("keyslots", "keyslots", "[\"01\"]"),
	SET("keyslots", "keyslots", "[\"+1\"]"),
	SET("keyslots", "keyslots", "[\" 1\"]"),
	SET("keyslots", "keyslots", "[\"1 \"]"),
	SET("keyslots", "keyslots", "[\"\"]"),
	SET("keyslots", "keyslots", "[\"100\"]"),
	SET("keyslots", "keyslots", "[1]"),
	SET("keyslots", "keyslots", "[null]"),
	SET("keyslots", "keyslots", "\"1\""),
	SET("keyslots", "keyslots", "1"),

	SET("oyster_version", "oyster_version", "3"),
	SET("oyster_version", "oyster_version", "0"),
	SET("oyster_version", "oyster_version", "-1"),
	SET("oyster_version", "oyster_version", "4294967297"),
	SET("oyster_version", "oyster_version", "99999999999999999999"),
	SET("oyster_version", "oyster_version", "\"1\""),
	SET("oyster_version", "oyster_version", "1.0"),
	SET("oyster_version", "oyster_version", "1.5"),
	SET("oyster_version", "oyster_version", "true"),

	SET("tpm2_private", "tpm2_private", "\"\""),
	SET("tpm2_private", "tpm2_private", "\"AAA\""),
	SET("tpm2_private", "tpm2_private", "42"),
	FN("tpm2_private", m_private_bad_base64),
	FN("tpm2_private", m_private_trailing),
	FN("tpm2_private", m_private_truncated),
	FN("tpm2_private", m_private_empty),
	FN("tpm2_private: longer", m_private_oversized),
	FN("tpm2_private: longer", m_private_long),
	FN("token: JSON larger", m_private_huge),

	SET("tpm2_public", "tpm2_public", "\"\""),
	SET("tpm2_public", "tpm2_public", "[]"),
	FN("tpm2_public", m_public_bad_base64),
	FN("tpm2_public", m_public_trailing),
	FN("tpm2_public", m_public_truncated),
	FN("tpm2_public: longer", m_public_long),
	FN("tpm2_public", m_public_rsa),
	FN("tpm2_public", m_public_sha1),
	FN("tpm2_public", m_public_policy),
	FN("tpm2_public", m_public_no_policy),
	FN("tpm2_public", m_public_user_with_auth),
	FN("tpm2_public", m_public_not_fixed),
	FN("tpm2_public", m_public_reserved_bit),
	FN("tpm2_public", m_public_admin_with_policy),
	FN("tpm2_public", m_public_hmac_key),

	SET("tpm2_srk_handle", "tpm2_srk_handle", "2164260866"),
	SET("tpm2_srk_handle", "tpm2_srk_handle", "1"),
	SET("tpm2_srk_handle", "tpm2_srk_handle", "-1"),
	SET("tpm2_srk_handle", "tpm2_srk_handle", "6459228161"),  /* 0x81000001 + 2^32 */
	SET("tpm2_srk_handle", "tpm2_srk_handle", "-2130706431"), /* (int32_t)0x81000001 */
	SET("tpm2_srk_handle", "tpm2_srk_handle", "\"2164260865\""),
	SET("tpm2_srk_handle", "tpm2_srk_handle", "\"0x81000001\""),
	SET("tpm2_srk_handle", "tpm2_srk_handle", "2164260865.0"),
	SET("tpm2_srk_handle", "tpm2_srk_handle", "true"),

	SET("tpm2_srk_name", "tpm2_srk_name", "\"\""),
	SET("tpm2_srk_name", "tpm2_srk_name", "34"),
	FN("tpm2_srk_name", m_srk_name_short),
	FN("tpm2_srk_name", m_srk_name_long),
	FN("tpm2_srk_name", m_srk_name_sha1),
	FN("tpm2_srk_name", m_srk_name_bad_hex),
	FN("tpm2_srk_name", m_srk_name_upper),

	SET("tpm2_pcr_bank", "tpm2_pcr_bank", "\"md5\""),
	SET("tpm2_pcr_bank", "tpm2_pcr_bank", "\"SHA256\""),
	SET("tpm2_pcr_bank", "tpm2_pcr_bank", "\"sha256 \""),
	SET("tpm2_pcr_bank", "tpm2_pcr_bank", "\"\""),
	SET("tpm2_pcr_bank", "tpm2_pcr_bank", "11"),

	SET("tpm2_pcrs", "tpm2_pcrs", "[]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,24]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[-1,7]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,4294967303]"), /* 7 + 2^32 */
	SET("tpm2_pcrs", "tpm2_pcrs", "[7,0]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,0,7]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,7,7]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,\"7\"]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,7.5]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,7.0]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,true]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "[0,null]"),
	SET("tpm2_pcrs", "tpm2_pcrs", "\"0+7\""),
	SET("tpm2_pcrs", "tpm2_pcrs", "7"),
	/* PCRs valid on their own but not those of the states. */
	SET("tpm2_states", "tpm2_pcrs", "[0]"),
	SET("tpm2_states", "tpm2_pcrs", "[0,7,8]"),

	SET("tpm2_states", "tpm2_states", "[]"),
	SET("tpm2_states", "tpm2_states", "{}"),
	SET("tpm2_states", "tpm2_states", "[\"x\"]"),
	SET("tpm2_states", "tpm2_states", "[{}]"),
	FN("tpm2_states", m_states_nine),
	FN("tpm2_states", m_state_not_object),
	FN("tpm2_states", m_state_missing_pcr),
	FN("tpm2_states", m_state_extra_pcr),
	FN("tpm2_states", m_state_renamed_pcr),
	FN("tpm2_states", m_state_short_value),
	FN("tpm2_states", m_state_long_value),
	FN("tpm2_states", m_state_huge_value),
	FN("tpm2_states", m_state_bad_hex),
	FN("tpm2_states", m_state_upper_hex),
	FN("tpm2_states", m_state_int_value),
	FN("token: not valid JSON", m_state_nested),
	/* A state changed without resealing: the stored digest catches it. */
	FN("tpm2_policy", m_state_changed),

	SET("tpm2_policy", "tpm2_policy", "\"\""),
	SET("tpm2_policy", "tpm2_policy", "32"),
	FN("tpm2_policy", m_policy_flip),
	FN("tpm2_policy", m_policy_upper),
	FN("tpm2_policy", m_policy_zero),
	FN("tpm2_policy", m_policy_long),

	SET("tpm2_pin", "tpm2_pin", "\"false\""),
	SET("tpm2_pin", "tpm2_pin", "0"),
	SET("tpm2_pin", "tpm2_pin", "[]"),
	/* PIN fields on a token without a PIN, or a PIN without its fields. */
	SET("tpm2_pin_salt", "tpm2_pin_salt", "\"000102030405060708090a0b0c0d0e0f\""),
	SET("tpm2_pin_salt", "tpm2_pin_iterations", "100000"),
	SET("tpm2_pin_salt", "tpm2_pin", "true"),

	SET("created", "created", "\"2026-11-26 15:00:00Z\""),
	SET("created", "created", "\"2026-11-26T15:00:00\""),
	SET("created", "created", "\"2026-11-26T15:00:00+00:00\""),
	SET("created", "created", "\"2026-11-26T15:00:00.000Z\""),
	SET("created", "created", "\"2026-11-26t15:00:00z\""),
	SET("created", "created", "\"20261126T150000Z\""),
	SET("created", "created", "\"2026-02-30T15:00:00Z\""),
	SET("created", "created", "\"2026-13-01T15:00:00Z\""),
	SET("created", "created", "\"2026-00-01T15:00:00Z\""),
	SET("created", "created", "\"2026-11-00T15:00:00Z\""),
	SET("created", "created", "\"2026-11-26T24:00:00Z\""),
	SET("created", "created", "\"2026-11-26T15:60:00Z\""),
	SET("created", "created", "\"2026-11-26T15:00:60Z\""),
	SET("created", "created", "\"1969-12-31T23:59:59Z\""),
	SET("created", "created", "\"1969-06-01T00:00:00Z\""),
	SET("created", "created", "\"+026-11-26T15:00:00Z\""),
	SET("created", "created", "\"\""),
	SET("created", "created", "1795705200"),

	SET("tpm2_events", "tpm2_events", "{}"),
	SET("tpm2_events", "tpm2_events", "[]"),
	SET("tpm2_events", "tpm2_events", "null"),
	SET("tpm2_events", "tpm2_events", "\"80000003:0123456789abcdef\""),
	SET("tpm2_events", "tpm2_events", "{\"5\":[\"80000003:0123456789abcdef\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"07\":[\"80000003:0123456789abcdef\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"x\":[\"80000003:0123456789abcdef\"]}"),
	SET("tpm2_events", "tpm2_events",
	    "{\"7\":[\"80000003:0123456789abcdef\"],\"\":[\"80000003:0123456789abcdef\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":\"80000003:0123456789abcdef\"}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[7]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[\"80000003:0123456789ABCDEF\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[\"80000003-0123456789abcdef\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[\"8000003:0123456789abcdef0\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[\"80000003:0123456789abcde\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[\"80000003:0123456789abcdef0\"]}"),
	SET("tpm2_events", "tpm2_events", "{\"7\":[\"0x800003:0123456789abcdef\"]}"),
	FN("tpm2_events", m_33_events),

	FN("unknown field", m_extra_field),
	FN("unknown field", m_extra_field_case),
};

static void test_mutations(void)
{
	struct token *tok = malloc(sizeof(*tok));
	size_t i;

	if (!tok)
		exit(99);
	for (i = 0; i < sizeof(mutations) / sizeof(mutations[0]); i++) {
		const struct mutation *m = &mutations[i];
		struct json_object *root = json_tokener_parse(valid_json);
		const char *why = NULL, *text;
		int r;

		if (!root)
			exit(99);
		if (m->change)
			m->change(root);
		else if (m->value && !strcmp(m->value, "null"))
			json_object_object_add(root, m->key, NULL);
		else if (m->value)
			set(root, m->key, json_tokener_parse(m->value));
		else
			json_object_object_del(root, m->key);
		text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
		r = token_parse(text, tok, &why);
		CHECK(r == -EINVAL && why && strstr(why, m->field),
		      "case %zu (%s=%s): got %d, why \"%s\", wanted a reason naming \"%s\"", i,
		      m->key ? m->key : "-", m->value ? m->value : "-", r, why ? why : "(null)",
		      m->field);
		json_object_put(root);
	}
	free(tok);
}

/* A token with a PIN, broken in its PIN fields or in what the PIN changes. */
static void test_pin_mutations(void)
{
	static const struct mutation pin_mutations[] = {
		DEL("tpm2_pin_salt", "tpm2_pin_salt"),
		DEL("tpm2_pin_iterations", "tpm2_pin_iterations"),
		SET("tpm2_pin_salt", "tpm2_pin_salt", "\"00112233\""),
		SET("tpm2_pin_salt", "tpm2_pin_salt", "\"000102030405060708090A0B0C0D0E0F\""),
		SET("tpm2_pin_salt", "tpm2_pin_salt", "\"000102030405060708090a0b0c0d0e0\""),
		SET("tpm2_pin_salt", "tpm2_pin_salt", "16"),
		SET("tpm2_pin_iterations", "tpm2_pin_iterations", "999"),
		SET("tpm2_pin_iterations", "tpm2_pin_iterations", "10000001"),
		SET("tpm2_pin_iterations", "tpm2_pin_iterations", "-1"),
		SET("tpm2_pin_iterations", "tpm2_pin_iterations", "\"100000\""),
		SET("tpm2_pin_iterations", "tpm2_pin_iterations", "1e5"),
		/* Without the PIN the policy (no PolicyAuthValue) no longer matches. */
		SET("tpm2_pin", "tpm2_pin", "false"),
	};
	struct token *tok = malloc(sizeof(*tok));
	TPM2B_PUBLIC pub;
	char *json = NULL;
	size_t i;

	if (!tok)
		exit(99);
	make_token(tok, 2, TPM2_ALG_SHA256, 1u << 7, 1, OYSTER_SRK_PERSISTENT, true);
	if (token_emit(tok, &json) < 0)
		exit(99);
	for (i = 0; i < sizeof(pin_mutations) / sizeof(pin_mutations[0]); i++) {
		const struct mutation *m = &pin_mutations[i];
		struct json_object *root = json_tokener_parse(json);
		const char *why = NULL, *text;
		int r;

		if (!root)
			exit(99);
		if (m->value)
			set(root, m->key, json_tokener_parse(m->value));
		else
			json_object_object_del(root, m->key);
		text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
		r = token_parse(text, tok, &why);
		CHECK(r == -EINVAL && why && strstr(why, m->field),
		      "PIN case %zu (%s=%s): got %d, why \"%s\", wanted a reason naming \"%s\"", i,
		      m->key, m->value ? m->value : "-", r, why ? why : "(null)", m->field);
		json_object_put(root);
	}
	/* The sealed object of a PIN token must not be noDA, and the other way round. */
	free(json);
	json = NULL;
	make_token(tok, 2, TPM2_ALG_SHA256, 1u << 7, 1, OYSTER_SRK_PERSISTENT, true);
	make_public(&pub, tok->policy, false);
	tok->public_len = marshal_public(&pub, tok->public_blob, sizeof(tok->public_blob));
	CHECK(token_emit(tok, &json) == -EINVAL, "a PIN token with a noDA object was emitted");
	free(json);
	free(tok);
}

/* Texts that are not a token at all. */
static void test_not_tokens(void)
{
	static const char *const texts[] = {
		"",
		" ",
		"{",
		"[]",
		"\"oyster-tpm2\"",
		"7",
		"null",
		"true",
		"{}x",
		"{},{}",
		"{\"a\":1,}",
		"{\"type\":{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}}",
	};
	char deep[2 * 10000 + 1];
	struct token *tok = malloc(sizeof(*tok));
	const char *why;
	char *text;
	size_t i;
	int r;

	if (!tok)
		exit(99);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		why = NULL;
		r = token_parse(texts[i], tok, &why);
		CHECK(r == -EINVAL && why && !strncmp(why, "token: ", 7),
		      "text \"%s\": %d, why \"%s\"", texts[i], r, why ? why : "(null)");
	}
	why = NULL;
	CHECK(token_parse(NULL, tok, &why) == -EINVAL && why, "NULL text");

	/* Deep nesting stops at the depth limit, long before the stack. */
	memset(deep, '[', sizeof(deep) / 2);
	memset(deep + sizeof(deep) / 2, ']', sizeof(deep) / 2);
	deep[sizeof(deep) - 1] = '\0';
	why = NULL;
	r = token_parse(deep, tok, &why);
	CHECK(r == -EINVAL && why && strstr(why, "token: not valid JSON"), "deep nesting: %d", r);

	/* Trailing text after a valid token. */
	if (asprintf(&text, "%s x", valid_json) < 0)
		exit(99);
	why = NULL;
	r = token_parse(text, tok, &why);
	CHECK(r == -EINVAL && why && strstr(why, "token"), "trailing text: %d", r);
	free(text);
	/* Surrounding whitespace is still JSON. */
	if (asprintf(&text, " \n%s\n", valid_json) < 0)
		exit(99);
	CHECK(token_parse(text, tok, NULL) == 0, "whitespace around a valid token");
	free(text);
	free(tok);
}

/*
 * A repeated key, which json-c would silently resolve to its last value, in
 * every spelling a second parser could read differently.
 */
static void test_duplicate_keys(void)
{
	struct token *tok = malloc(sizeof(*tok));
	size_t len = strlen(valid_json);
	const char *states = strstr(valid_json, "\"tpm2_states\":[{");
	char *text;
	const char *why;
	int r;

	if (!tok || !states)
		exit(99);
	static const char *const tails[] = {
		/* the same value again: harmless to json-c, still refused */
		",\"oyster_version\":1}",
		/* an escaped spelling of the same key */
		",\"\\u006fyster_version\":1}",
		",\"oyster\\u005fversion\":1}",
		",\"type\":\"oyster-tpm2\"}",
	};
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		if (asprintf(&text, "%.*s%s", (int)(len - 1), valid_json, tails[i]) < 0)
			exit(99);
		why = NULL;
		r = token_parse(text, tok, &why);
		CHECK(r == -EINVAL && why && !strcmp(why, "token: an object repeats a key"),
		      "duplicate \"%s\": %d, why \"%s\"", tails[i], r, why ? why : "(null)");
		free(text);
	}
	/* A repeated PCR inside a state: the object one level down. */
	size_t at = (size_t)(states - valid_json) + strlen("\"tpm2_states\":[{");
	const char *end = strchr(valid_json + at, '}');

	if (!end)
		exit(99);
	if (asprintf(&text, "%.*s,%.*s%s", (int)(end - valid_json), valid_json,
		     (int)(strchr(valid_json + at, ',') - (valid_json + at)), valid_json + at,
		     end) < 0)
		exit(99);
	why = NULL;
	r = token_parse(text, tok, &why);
	CHECK(r == -EINVAL && why && !strcmp(why, "token: an object repeats a key"),
	      "duplicate PCR in a state: %d, why \"%s\"\n%s", r, why ? why : "(null)", text);
	free(text);
	/* The same key in two different objects is no repetition. */
	CHECK(token_parse(valid_json, tok, NULL) == 0, "the valid token");
	free(tok);
}

/* A token too broken to use still tells which keyslot it belongs to, to be wiped. */
static void test_partial(void)
{
	struct token *tok = malloc(sizeof(*tok));
	struct json_object *root = json_tokener_parse(valid_json);

	if (!tok || !root)
		exit(99);
	set(root, "tpm2_policy", json_object_new_string("bad"));
	CHECK(token_parse(json_object_to_json_string(root), tok, NULL) == -EINVAL &&
		      tok->keyslot == 1,
	      "keyslot of a broken token: %d", tok->keyslot);
	set(root, "type", json_object_new_string("other"));
	CHECK(token_parse(json_object_to_json_string(root), tok, NULL) == -EINVAL &&
		      tok->keyslot == -1,
	      "keyslot of another type's token: %d", tok->keyslot);
	json_object_put(root);
	free(tok);
}

struct dump {
	char text[8192];
	unsigned lines;
};

static void collect(const char *line, void *data)
{
	struct dump *d = data;

	d->lines++;
	CHECK(line[0] == '\t' && !strchr(line, '\n'), "dump line \"%s\"", line);
	strncat(d->text, line, sizeof(d->text) - strlen(d->text) - 2);
	strcat(d->text, "\n");
}

static void test_dump(void)
{
	struct dump d = { .lines = 0 };
	struct token tok;
	char want[256], hex[2 * OYSTER_MAX_DIGEST + 1];

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	token_dump(&tok, collect, &d);
	CHECK(strstr(d.text, "\tTPM2 PCRs:  0+7 (sha256)\n"), "PCR line in\n%s", d.text);
	CHECK(strstr(d.text, pcr_name(0)) && strstr(d.text, pcr_name(7)), "PCR names in\n%s",
	      d.text);
	CHECK(strstr(d.text, "\tStates:     2\n"), "state count in\n%s", d.text);
	hex_encode(tok.states[1].value[7], 32, hex, sizeof(hex));
	snprintf(want, sizeof(want), "\t             7: %s\n", hex);
	CHECK(strstr(d.text, want) && strstr(d.text, "\tState 2:     0: "),
	      "state 2's values in\n%s", d.text);
	hex_encode(tok.policy, OYSTER_POLICY_SIZE, hex, sizeof(hex));
	snprintf(want, sizeof(want), "\tPolicy:     %s\n", hex);
	CHECK(strstr(d.text, want), "policy in\n%s", d.text);
	CHECK(strstr(d.text, "\tSRK:        0x81000001 (persistent)\n"), "SRK in\n%s", d.text);
	CHECK(strstr(d.text, "\tSRK name:   000bc2c3"), "SRK name in\n%s", d.text);
	CHECK(strstr(d.text, "\tPIN:        no\n"), "PIN in\n%s", d.text);
	CHECK(strstr(d.text, "\tCreated:    2026-11-26T15:00:00Z\n"), "created in\n%s", d.text);
	if (getenv("TEST_VERBOSE"))
		fputs(d.text, stdout);
}

/* An authorized token (version 2) with n states: the object's policy names the NV index. */
static void make_authorized(struct token *tok, unsigned n, bool pin)
{
	TPM2B_PUBLIC pub;
	unsigned k;

	make_token(tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 1, OYSTER_SRK_PERSISTENT, pin);
	tok->version = OYSTER_TOKEN_AUTHORIZED;
	tok->n_states = n;
	for (unsigned i = 0; i < n; i++) {
		tok->states[i] = tok->states[0];
		tok->states[i].value[7][0] = (uint8_t)i;
		tok->origins[i].kind = i % TOKEN_ORIGIN_COUNT;
		tok->origins[i].when = CREATED;
		snprintf(tok->origins[i].note, sizeof(tok->origins[i].note), "%s",
			 i % 2 ? "vmlinuz-6.1.0-27-amd64" : "");
	}
	tok->nv_index = OYSTER_NV_FIRST + 3;
	tok->nv_name[0] = 0x00;
	tok->nv_name[1] = 0x0b;
	for (k = 2; k < OYSTER_NV_NAME_LEN; k++)
		tok->nv_name[k] = (uint8_t)(0x30 + k);
	if (token_approved(tok, false, tok->approved) < 0 ||
	    token_policy(tok, NULL, &k, tok->policy) < 0) {
		fprintf(stderr, "cannot compute an authorized token's policies\n");
		exit(99);
	}
	make_public(&pub, tok->policy, pin);
	tok->public_len = marshal_public(&pub, tok->public_blob, sizeof(tok->public_blob));
}

/* Parses text with the first occurrence of from replaced by to; the reason must name want. */
static void check_refused(const char *json, const char *from, const char *to, const char *want)
{
	const char *at = strstr(json, from), *why = NULL;
	struct token *tok = malloc(sizeof(*tok));
	char *text;
	int r;

	if (!tok || !at) {
		fprintf(stderr, "test bug: \"%s\" is not in %s\n", from, json);
		exit(99);
	}
	text = malloc(strlen(json) + strlen(to) + 1);
	if (!text)
		exit(99);
	memcpy(text, json, (size_t)(at - json));
	strcpy(text + (at - json), to);
	strcat(text, at + strlen(from));
	r = token_parse(text, tok, &why);
	CHECK(r == -EINVAL && why && strstr(why, want), "%s -> %s: %d, why \"%s\", want \"%s\"",
	      from, to, r, why ? why : "(null)", want);
	free(text);
	free(tok);
}

static void test_authorized(void)
{
	struct token *tok = malloc(sizeof(*tok)), *back = malloc(sizeof(*back));
	char *json = NULL, *json64 = NULL;
	const char *why = NULL;
	uint8_t leaves[OYSTER_MAX_APPROVED][OYSTER_POLICY_SIZE], root[OYSTER_POLICY_SIZE];
	unsigned n;

	if (!tok || !back)
		exit(99);
	make_authorized(tok, 3, false);
	CHECK(token_emit(tok, &json) == 0, "emit a version 2 token");
	CHECK(json && token_parse(json, back, &why) == 0, "parse it back: %s", why ? why : "");
	check_same(tok, back, "version 2");
	CHECK(back->nv_index == tok->nv_index && !memcmp(back->nv_name, tok->nv_name, 34) &&
		      back->origins[1].kind == tok->origins[1].kind &&
		      !strcmp(back->origins[1].note, "vmlinuz-6.1.0-27-amd64"),
	      "version 2 fields");

	check_refused(json, "\"oyster_version\":2", "\"oyster_version\":1",
		      "unknown field for oyster_version 1");
	check_refused(json, "\"tpm2_nv_index\":25186051", "\"tpm2_nv_index\":25186048,\"x\":1",
		      "unknown field for oyster_version 2");
	check_refused(json, "\"tpm2_nv_index\":25186051", "\"tpm2_nv_index\":25186304",
		      "tpm2_nv_index");
	check_refused(json, "\"tpm2_nv_index\":25186051", "\"tpm2_nv_index\":25186047",
		      "tpm2_nv_index");
	check_refused(json, "\"tpm2_nv_name\":\"000b", "\"tpm2_nv_name\":\"0004", "tpm2_nv_name");
	check_refused(json, "\"tpm2_nv_name\":\"000b3233", "\"tpm2_nv_name\":\"000b3234",
		      "tpm2_policy");
	check_refused(json, "\"tpm2_approved_policy\":\"", "\"tpm2_approved_policy\":\"00",
		      "tpm2_approved_policy");
	check_refused(json, "\"kind\":\"enrolled\"", "\"kind\":\"guessed\"", "tpm2_state_origins");
	check_refused(json, "\"kind\":\"enrolled\"", "\"kind\":\"enrolled\",\"x\":1",
		      "tpm2_state_origins");
	check_refused(json, "\"note\":\"vmlinuz", "\"note\":\"\\u0007vmlinuz",
		      "tpm2_state_origins");
	check_refused(json, "\"approved\":\"2026", "\"approved\":\"1926", "tpm2_state_origins");
	/* A changed state: the approved policy no longer matches. */
	check_refused(json, "\"7\":\"00", "\"7\":\"ff", "tpm2_approved_policy");
	/* Version 1 fields keep their version 1 meaning: a version 1 token carries none of these.
	 */
	check_refused(valid_json, "\"tpm2_pin\":false",
		      "\"tpm2_pin\":false,\"tpm2_nv_index\":25186051",
		      "unknown field for oyster_version 1");

	/* An interrupted approval: the previous set, checked too. */
	back->has_previous = true;
	back->previous.n_states = 1;
	back->previous.states[0] = tok->states[0];
	back->previous.next_boot = true;
	back->previous.next_boot_reset = 9;
	CHECK(token_approved(back, true, back->previous.approved) == 0, "previous policy");
	free(json);
	json = NULL;
	CHECK(token_emit(back, &json) == 0 && json && strstr(json, "tpm2_previous"),
	      "emit with tpm2_previous");
	CHECK(json && token_parse(json, tok, &why) == 0 && tok->has_previous &&
		      tok->previous.next_boot_reset == 9,
	      "parse tpm2_previous: %s", why ? why : "");
	if (json) {
		check_refused(json, "\"tpm2_next_boot_reset\":9", "\"tpm2_next_boot_reset\":10",
			      "tpm2_previous");
		check_refused(json, "\"tpm2_next_boot_reset\":9",
			      "\"tpm2_next_boot_reset\":9,\"y\":1", "tpm2_previous");
	}

	/* 64 states: two levels of PolicyOR; 65 leaves are refused. */
	make_authorized(tok, 64, true);
	CHECK(token_emit(tok, &json64) == 0 && json64 && token_parse(json64, back, &why) == 0 &&
		      back->n_states == 64,
	      "64 states with a PIN: %s", why ? why : "");
	tok->next_boot = true;
	tok->next_boot_reset = 5;
	CHECK(token_leaves(tok, false, leaves, &n) == -EINVAL, "64 states and the next boot");
	tok->n_states = 63;
	CHECK(token_leaves(tok, false, leaves, &n) == 0 && n == 64 &&
		      policy_tree((const uint8_t(*)[OYSTER_POLICY_SIZE])leaves, n, root) == 0,
	      "63 states and the next boot");
	free(json);
	free(json64);
	free(tok);
	free(back);
}

int main(void)
{
	struct token tok;

	make_token(&tok, 1, TPM2_ALG_SHA256, PCRS_0_7, 2, OYSTER_SRK_PERSISTENT, false);
	if (token_emit(&tok, &valid_json) < 0) {
		fprintf(stderr, "cannot emit the valid token\n");
		return 99;
	}
	if (getenv("TEST_VERBOSE"))
		printf("%s\n", valid_json);

	test_round_trip();
	test_emit_refuses();
	test_events();
	test_mutations();
	test_pin_mutations();
	test_not_tokens();
	test_duplicate_keys();
	test_partial();
	test_dump();
	test_authorized();
	free(valid_json);
	return test_done();
}
