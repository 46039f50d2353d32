// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The other direction of token.c: a struct token as the JSON text of
 * docs/token-format.md (checked by token_parse() before it is handed out),
 * and as the lines of `cryptsetup luksDump`.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "encode.h"
#include "log.h"
#include "token-parse.h"
#include "token.h"

/* Hex buffers fit the longest of a name and a digest. */
#define TOKEN_HEX_MAX (2 * OYSTER_MAX_NAME + 1)

static int format_time(time_t t, char *buf, size_t size)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year < 70 || tm.tm_year > 9999 - 1900)
		return -EINVAL;
	snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	return 0;
}

/* A NULL val (allocation failed) or a failed add both give -ENOMEM; the object owns val. */
static int add(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

/* add() under the field's name from the one table the parser reads too. */
static int add_field(struct json_object *obj, int f, struct json_object *val)
{
	return add(obj, token_field_key(f), val);
}

static int append(struct json_object *arr, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_array_add(arr, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *new_hex(const uint8_t *in, size_t n)
{
	char buf[TOKEN_HEX_MAX];

	if (hex_encode(in, n, buf, sizeof(buf)) < 0)
		return NULL;
	return json_object_new_string(buf);
}

static struct json_object *new_base64(const uint8_t *in, size_t n)
{
	char buf[BASE64_LEN(OYSTER_MAX_PRIVATE > OYSTER_MAX_PUBLIC ? OYSTER_MAX_PRIVATE
								   : OYSTER_MAX_PUBLIC) +
		 1];

	if (base64_encode(in, n, buf, sizeof(buf)) < 0)
		return NULL;
	return json_object_new_string(buf);
}

static struct json_object *new_keyslots(int keyslot)
{
	struct json_object *arr = json_object_new_array();
	char buf[16];

	snprintf(buf, sizeof(buf), "%d", keyslot);
	if (arr && append(arr, json_object_new_string(buf)) < 0) {
		json_object_put(arr);
		arr = NULL;
	}
	return arr;
}

static struct json_object *new_pcrs(uint32_t mask)
{
	struct json_object *arr = json_object_new_array();

	FOREACH_PCR_IN_MASK(pcr, arr ? mask : 0) {
		if (append(arr, json_object_new_int((int)pcr)) < 0) {
			json_object_put(arr);
			arr = NULL;
			break;
		}
	}
	return arr;
}

static struct json_object *new_state(const struct token *tok, const struct pcr_state *state)
{
	struct json_object *obj = json_object_new_object();
	size_t size = pcr_bank_digest_size(tok->bank);
	char key[4];

	FOREACH_PCR_IN_MASK(pcr, obj ? tok->pcr_mask : 0) {
		snprintf(key, sizeof(key), "%u", pcr);
		if (add(obj, key, new_hex(state->value[pcr], size)) < 0) {
			json_object_put(obj);
			obj = NULL;
			break;
		}
	}
	return obj;
}

static struct json_object *new_states(const struct token *tok, const struct pcr_state *states,
				      unsigned n)
{
	struct json_object *arr = json_object_new_array();
	unsigned i;

	for (i = 0; arr && i < n; i++) {
		if (append(arr, new_state(tok, &states[i])) < 0) {
			json_object_put(arr);
			arr = NULL;
		}
	}
	return arr;
}

static struct json_object *new_event(const struct token_event *ev)
{
	char buf[8 + 1 + 2 * OYSTER_EVENT_DIGEST + 1];

	snprintf(buf, sizeof(buf), "%08x:", ev->type);
	if (hex_encode(ev->digest, OYSTER_EVENT_DIGEST, buf + 9, sizeof(buf) - 9) < 0)
		return NULL;
	return json_object_new_string(buf);
}

/* Events are kept by PCR: each run of one PCR becomes that key's array. */
static struct json_object *new_events(const struct token *tok)
{
	struct json_object *obj = json_object_new_object(), *arr = NULL;
	char key[4];
	unsigned i;

	for (i = 0; obj && i < tok->n_events; i++) {
		if (i == 0 || tok->events[i].pcr != tok->events[i - 1].pcr) {
			snprintf(key, sizeof(key), "%u", tok->events[i].pcr);
			arr = json_object_new_array();
			if (add(obj, key, arr) < 0)
				goto fail;
		}
		if (append(arr, new_event(&tok->events[i])) < 0)
			goto fail;
	}
	return obj;
fail:
	json_object_put(obj);
	return NULL;
}

static struct json_object *new_time(time_t t)
{
	char buf[64];

	if (format_time(t, buf, sizeof(buf)) < 0)
		return NULL;
	return json_object_new_string(buf);
}

static struct json_object *new_origin(const struct token_origin *o)
{
	struct json_object *obj = json_object_new_object();

	if (obj && (add(obj, "kind", json_object_new_string(token_origin_name(o->kind))) < 0 ||
		    add(obj, "approved", new_time(o->when)) < 0 ||
		    (o->note[0] && add(obj, "note", json_object_new_string(o->note)) < 0))) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

static struct json_object *new_origins(const struct token *tok)
{
	struct json_object *arr = json_object_new_array();

	for (unsigned i = 0; arr && i < tok->n_states; i++) {
		if (append(arr, new_origin(&tok->origins[i])) < 0) {
			json_object_put(arr);
			arr = NULL;
		}
	}
	return arr;
}

static struct json_object *new_previous(const struct token *tok)
{
	const struct token_previous *p = &tok->previous;
	struct json_object *obj = json_object_new_object();

	if (obj &&
	    (add_field(obj, F_STATES, new_states(tok, p->states, p->n_states)) < 0 ||
	     (p->next_boot &&
	      add_field(obj, F_NEXT_BOOT, json_object_new_int64(p->next_boot_reset)) < 0) ||
	     add_field(obj, F_APPROVED, new_hex(p->approved, OYSTER_POLICY_SIZE)) < 0)) {
		json_object_put(obj);
		obj = NULL;
	}
	return obj;
}

/* Version 2's fields. */
static int add_authorized(struct json_object *root, const struct token *tok)
{
	if (add_field(root, F_NV_INDEX, json_object_new_int64(tok->nv_index)) < 0 ||
	    add_field(root, F_NV_NAME, new_hex(tok->nv_name, OYSTER_NV_NAME_LEN)) < 0 ||
	    add_field(root, F_APPROVED, new_hex(tok->approved, OYSTER_POLICY_SIZE)) < 0 ||
	    add_field(root, F_ORIGINS, new_origins(tok)) < 0)
		return -ENOMEM;
	if (tok->has_previous && add_field(root, F_PREVIOUS, new_previous(tok)) < 0)
		return -ENOMEM;
	return 0;
}

/* What the encoders below rely on to stay inside tok; token_parse() judges the rest. */
static bool token_in_bounds(const struct token *tok)
{
	size_t size = pcr_bank_digest_size(tok->bank);
	char buf[64];

	return tok->keyslot >= 0 && tok->keyslot <= 31 && tok->private_len <= OYSTER_MAX_PRIVATE &&
	       tok->public_len <= OYSTER_MAX_PUBLIC && tok->srk_name_len <= OYSTER_MAX_NAME &&
	       size > 0 && size <= OYSTER_MAX_DIGEST && tok->n_states <= token_max_states(tok) &&
	       (!tok->has_previous || tok->previous.n_states <= OYSTER_MAX_APPROVED) &&
	       !(tok->pcr_mask >> OYSTER_PCR_COUNT) && tok->pin_salt_len <= OYSTER_PIN_SALT_MAX &&
	       tok->n_events <= OYSTER_EVENTS_MAX &&
	       format_time(tok->created, buf, sizeof(buf)) == 0;
}

int token_emit(const struct token *tok, char **json)
{
	struct json_object *root = NULL;
	struct token *check = NULL;
	const char *why = NULL;
	char *s = NULL;
	int r = -EINVAL;

	*json = NULL;
	if (!token_in_bounds(tok)) {
		log_debug("token: cannot emit a token with out-of-range fields");
		goto out;
	}
	r = -ENOMEM;
	root = json_object_new_object();
	if (!root)
		goto out;
	if (add_field(root, F_TYPE, json_object_new_string(OYSTER_TOKEN_TYPE)) < 0 ||
	    add_field(root, F_KEYSLOTS, new_keyslots(tok->keyslot)) < 0 ||
	    add_field(root, F_VERSION, json_object_new_int((int)tok->version)) < 0 ||
	    add_field(root, F_PRIVATE, new_base64(tok->private_blob, tok->private_len)) < 0 ||
	    add_field(root, F_PUBLIC, new_base64(tok->public_blob, tok->public_len)) < 0 ||
	    add_field(root, F_SRK_HANDLE, json_object_new_int64(tok->srk_handle)) < 0 ||
	    add_field(root, F_SRK_NAME, new_hex(tok->srk_name, tok->srk_name_len)) < 0 ||
	    add_field(root, F_BANK, json_object_new_string(pcr_bank_name(tok->bank))) < 0 ||
	    add_field(root, F_PCRS, new_pcrs(tok->pcr_mask)) < 0 ||
	    add_field(root, F_STATES, new_states(tok, tok->states, tok->n_states)) < 0 ||
	    add_field(root, F_POLICY, new_hex(tok->policy, OYSTER_POLICY_SIZE)) < 0 ||
	    add_field(root, F_PIN, json_object_new_boolean(tok->pin)) < 0)
		goto out;
	if (tok->next_boot &&
	    add_field(root, F_NEXT_BOOT, json_object_new_int64(tok->next_boot_reset)) < 0)
		goto out;
	if (tok->pin &&
	    (add_field(root, F_PIN_SALT, new_hex(tok->pin_salt, tok->pin_salt_len)) < 0 ||
	     add_field(root, F_PIN_ITERATIONS, json_object_new_int64(tok->pin_iterations)) < 0))
		goto out;
	if (tok->n_events && add_field(root, F_EVENTS, new_events(tok)) < 0)
		goto out;
	if (token_authorized(tok) && add_authorized(root, tok) < 0)
		goto out;
	if (add_field(root, F_CREATED, new_time(tok->created)) < 0)
		goto out;
	s = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
								JSON_C_TO_STRING_NOSLASHESCAPE));
	check = malloc(sizeof(*check));
	if (!s || !check)
		goto out;
	/* Never write what no reader would accept (a stale policy, a bad blob). */
	r = token_parse(s, check, &why);
	if (r < 0) {
		log_debug("token: refusing to emit an invalid token: %s", why ? why : "no memory");
		goto out;
	}
	*json = s;
	s = NULL;
out:
	free(check);
	free(s);
	json_object_put(root);
	return r;
}

static void dumpf(void (*line)(const char *text, void *data), void *data, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void dumpf(void (*line)(const char *text, void *data), void *data, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	line(buf, data);
}

static void dump_hex(char *buf, size_t size, const uint8_t *in, size_t n)
{
	if (hex_encode(in, n, buf, size) < 0)
		snprintf(buf, size, "(invalid)");
}

/* Layout of cryptsetup luksDump: a tab, a label padded to 12 columns, the value. */
void token_dump(const struct token *tok, void (*line)(const char *text, void *data), void *data)
{
	size_t size = pcr_bank_digest_size(tok->bank);
	const char *bank = pcr_bank_name(tok->bank);
	char hex[TOKEN_HEX_MAX];
	char spec[OYSTER_PCR_COUNT * 3 + 1];
	unsigned i, n_states;
	const char *name;

	if (size > OYSTER_MAX_DIGEST)
		size = 0;
	n_states = tok->n_states > OYSTER_MAX_APPROVED ? OYSTER_MAX_APPROVED : tok->n_states;

	dumpf(line, data, "\tVersion:    %u", tok->version);
	pcr_format_spec(tok->pcr_mask, spec, sizeof(spec));
	dumpf(line, data, "\tTPM2 PCRs:  %s (%s)", spec, bank ? bank : "unknown bank");
	FOREACH_PCR_IN_MASK(pcr, tok->pcr_mask) {
		name = pcr_name(pcr);
		dumpf(line, data, "\t            %2u: %s", pcr, name ? name : pcr_description(pcr));
	}
	dumpf(line, data, "\tStates:     %u", n_states);
	for (i = 0; i < n_states; i++) {
		bool first = true;

		FOREACH_PCR_IN_MASK(pcr, tok->pcr_mask) {
			dump_hex(hex, sizeof(hex), tok->states[i].value[pcr], size);
			if (first)
				dumpf(line, data, "\tState %u:    %2u: %s", i + 1, pcr, hex);
			else
				dumpf(line, data, "\t            %2u: %s", pcr, hex);
			first = false;
		}
	}
	dump_hex(hex, sizeof(hex), tok->policy, OYSTER_POLICY_SIZE);
	dumpf(line, data, "\tPolicy:     %s", hex);
	if (token_authorized(tok)) {
		dumpf(line, data, "\tNV index:   0x%08x (holds the approved policy)",
		      tok->nv_index);
		dump_hex(hex, sizeof(hex), tok->nv_name, OYSTER_NV_NAME_LEN);
		dumpf(line, data, "\tNV name:    %s", hex);
		dump_hex(hex, sizeof(hex), tok->approved, OYSTER_POLICY_SIZE);
		dumpf(line, data, "\tApproved:   %s", hex);
		for (i = 0; i < n_states; i++) {
			char when[32];

			if (format_time(tok->origins[i].when, when, sizeof(when)) < 0)
				snprintf(when, sizeof(when), "(invalid)");
			dumpf(line, data, "\tOrigin %u:   %s %s%s%s", i + 1,
			      token_origin_name(tok->origins[i].kind), when,
			      tok->origins[i].note[0] ? " " : "", tok->origins[i].note);
		}
		if (tok->next_boot)
			dumpf(line, data, "\tNext boot:  reset count %u", tok->next_boot_reset);
		if (tok->has_previous)
			dumpf(line, data, "\tPrevious:   %u states (an approval was interrupted)",
			      tok->previous.n_states);
	}
	dumpf(line, data, "\tSRK:        0x%08x (%s)", tok->srk_handle,
	      tok->srk_handle == OYSTER_SRK_TRANSIENT ? "transient, created at each unlock"
						      : "persistent");
	dump_hex(hex, sizeof(hex), tok->srk_name,
		 tok->srk_name_len > OYSTER_MAX_NAME ? 0 : tok->srk_name_len);
	dumpf(line, data, "\tSRK name:   %s", hex);
	if (tok->pin)
		dumpf(line, data, "\tPIN:        yes (PBKDF2-SHA256, %u iterations)",
		      tok->pin_iterations);
	else
		dumpf(line, data, "\tPIN:        no");
	if (tok->n_events)
		dumpf(line, data, "\tEvents:     %u recorded (to explain a change)", tok->n_events);
	if (format_time(tok->created, hex, sizeof(hex)) < 0)
		snprintf(hex, sizeof(hex), "(invalid)");
	dumpf(line, data, "\tCreated:    %s", hex);
}
