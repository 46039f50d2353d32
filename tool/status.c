// SPDX-License-Identifier: LGPL-2.1-or-later
/* oyster status: each token, whether the TPM would unlock it now, and why not. */
#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "boot.h"
#include "cmd.h"
#include "encode.h"
#include "eventlog.h"
#include "explain.h"
#include "fallback.h"
#include "header.h"
#include "log.h"
#include "luks.h"
#include "predict.h"
#include "recovery.h"
#include "tpm.h"
#include "unlock.h"

static const char usage[] =
	"Usage: oyster status DEVICE [--json]\n\n"
	"List DEVICE's oyster tokens with their keyslot, PCR bank, PCRs and creation time, and,\n"
	"when a TPM is reachable, whether each bound PCR still has its enrolled value and\n"
	"whether the TPM would unlock the volume now. When a PCR changed and the token recorded\n"
	"the boot's events, the events that differ from this boot's event log are named.\n"
	"Recovery keys (oyster enroll --recovery-key) are listed with their keyslot and date.\n"
	"When the initramfs recorded that the TPM did not unlock the volume in this boot\n"
	"(/run/oyster/fallback), status says so, why, and which PCRs changed.\n\n"
	"  --json      print one JSON object instead of text\n"
	"  -h, --help  show this help\n";

/* What status learned about one token. */
struct verdict {
	int parse_r;
	const char *why; /* what is malformed */
	enum unlock_verdict v;
	struct unlock_check c;
};

/* A predicted state not booted after this long is worth a warning (oyster-status(8)). */
#define STATUS_PREDICTED_DAYS 30

static const char *verdict_text(const struct token *tok, const struct verdict *v, char *buf,
				size_t size)
{
	char reason[512];

	if (v->parse_r < 0)
		return "no: the token is malformed; wipe it and enroll again";
	unlock_reason(v->v, tok, &v->c, reason, sizeof(reason));
	switch (v->v) {
	case UNLOCK_APPROVED:
		snprintf(buf, size, "yes (%s)", reason);
		break;
	case UNLOCK_NEXT_BOOT:
		snprintf(buf, size, "yes (%s; bind to it with oyster reseal --prune)", reason);
		break;
	case UNLOCK_NO_TPM:
	case UNLOCK_UNREAD:
		snprintf(buf, size, "unknown: %s", reason);
		break;
	case UNLOCK_NV_GONE:
		snprintf(buf, size, "no: %s; enroll again", reason);
		break;
	case UNLOCK_FENCE:
		snprintf(buf, size,
			 "no: %s; if the boot fence extended it, as it does after every boot, the "
			 "token works again at the next boot",
			 reason);
		break;
	default:
		snprintf(buf, size, "no: %s", reason);
		break;
	}
	return buf;
}

/* Whether the NV index was read and approves the header's states. */
static bool nv_approves(const struct verdict *v)
{
	switch (v->v) {
	case UNLOCK_NO_TPM:
	case UNLOCK_OTHER_TPM:
	case UNLOCK_UNREAD:
	case UNLOCK_NV_GONE:
	case UNLOCK_NV_LOCKED:
	case UNLOCK_REVOKED:
		return false;
	default:
		return true;
	}
}

/* The PCRs whose events are worth naming: changed, not by the fence, with events recorded. */
static uint32_t explainable(const struct token *tok, const struct verdict *v)
{
	if (v->parse_r < 0 || v->c.state != -ENOENT || !tok->n_events || v->v == UNLOCK_NEXT_BOOT)
		return 0;
	return v->c.changed & ~token_fence_pcrs(tok);
}

static void print_event_line(const char *text, void *data)
{
	(void)data;
	printf("  event:     %s\n", text);
}

static void add_event_line(const char *text, void *data)
{
	json_object_array_add(data, json_object_new_string(text));
}

/* Names the changed events, from this boot's log; nothing without a log. */
static void explain(const struct token *tok, const struct verdict *v,
		    void (*line)(const char *text, void *data), void *data)
{
	uint32_t pcrs = explainable(tok, v);
	struct eventlog *log;

	if (!pcrs)
		return;
	log = predict_boot_log(NULL);
	if (!log)
		return;
	explain_diff(tok, log, &v->c.now, pcrs, line, data);
	eventlog_free(log);
}

static bool predicted_stale(const struct token *tok, const struct verdict *v, unsigned s)
{
	return tok->origins[s].kind == TOKEN_ORIGIN_PREDICTED && v->c.state != (int)s &&
	       time(NULL) - tok->origins[s].when > STATUS_PREDICTED_DAYS * 86400;
}

static void format_when(time_t t, bool iso, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	if (iso)
		strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
	else
		strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

/* Authorized tokens: what each approved state stands for, and the NV index. */
static void print_approved(const struct token *tok, const struct verdict *v)
{
	char when[64];

	if (!token_authorized(tok))
		return;
	printf("  Mode:      authorized (NV index 0x%08x%s)\n", tok->nv_index,
	       nv_approves(v) ? ", approves these states" : "");
	for (unsigned s = 0; s < tok->n_states; s++) {
		format_when(tok->origins[s].when, false, when, sizeof(when));
		printf("  State %-3u %s %s%s%s%s\n", s + 1, token_origin_name(tok->origins[s].kind),
		       when, tok->origins[s].note[0] ? " (" : "", tok->origins[s].note,
		       tok->origins[s].note[0] ? ")" : "");
		if (predicted_stale(tok, v, s))
			printf("  Warning:   state %u was predicted more than %d days ago and this "
			       "boot is not it; remove it with oyster reseal --prune once the "
			       "machine boots as it should\n",
			       s + 1, STATUS_PREDICTED_DAYS);
	}
	if (tok->has_previous)
		printf("  Previous:  %u states, kept until an interrupted approval is finished "
		       "(oyster reseal finishes it)\n",
		       tok->previous.n_states);
}

static struct json_object *json_approved(const struct token *tok, const struct verdict *v)
{
	struct json_object *arr = json_object_new_array();
	char when[64];

	for (unsigned s = 0; s < tok->n_states; s++) {
		struct json_object *o = json_object_new_object();

		format_when(tok->origins[s].when, true, when, sizeof(when));
		json_object_object_add(
			o, "origin",
			json_object_new_string(token_origin_name(tok->origins[s].kind)));
		json_object_object_add(o, "approved", json_object_new_string(when));
		if (tok->origins[s].note[0])
			json_object_object_add(o, "note",
					       json_object_new_string(tok->origins[s].note));
		json_object_object_add(o, "stale",
				       json_object_new_boolean(predicted_stale(tok, v, s)));
		json_object_array_add(arr, o);
	}
	return arr;
}

static void print_text(int id, const struct token *tok, const struct verdict *v)
{
	char spec[128], when[64], buf[640];
	struct tm tm;

	if (v->parse_r < 0) {
		printf("Token %d: oyster-tpm2, keyslot %d, MALFORMED\n", id, tok->keyslot);
		printf("  problem: %s\n", v->why ? v->why : "cannot read the token");
		printf("  would unlock now: %s\n", verdict_text(tok, v, buf, sizeof(buf)));
		return;
	}
	pcr_format_spec(tok->pcr_mask, spec, sizeof(spec));
	gmtime_r(&tok->created, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("Token %d: oyster-tpm2, keyslot %d\n", id, tok->keyslot);
	printf("  PCR bank:  %s\n  PCRs:      %s\n  States:    %u approved\n  Created:   %s\n",
	       pcr_bank_name(tok->bank), spec, tok->n_states, when);
	if (tok->next_boot)
		printf("  Next boot: approved whatever it measures (TPM reset count %u)\n",
		       tok->next_boot_reset);
	print_approved(tok, v);
	printf("  SRK:       %s%s\n",
	       tok->srk_handle == OYSTER_SRK_PERSISTENT ? "0x81000001 (persistent)" : "transient",
	       v->v == UNLOCK_OTHER_TPM				? ", ANOTHER TPM's"
	       : v->v == UNLOCK_NO_TPM || v->v == UNLOCK_UNREAD ? ""
								: ", this TPM's");
	if (v->c.state >= 0 || v->c.state == -ENOENT)
		FOREACH_PCR_IN_MASK(pcr, tok->pcr_mask) {
			const char *name = pcr_name(pcr);

			printf("  PCR %-2u %-20s %-9s %s\n", pcr, name ? name : "-",
			       v->c.changed & (1u << pcr) ? "CHANGED" : "matches",
			       pcr_description(pcr));
		}
	explain(tok, v, print_event_line, NULL);
	printf("  would unlock now: %s\n", verdict_text(tok, v, buf, sizeof(buf)));
}

/* yes for true, no for false, null while the TPM could not say. */
static struct json_object *json_tristate(const struct verdict *v, bool yes)
{
	if (v->parse_r >= 0 && (v->v == UNLOCK_NO_TPM || v->v == UNLOCK_UNREAD))
		return NULL;
	return json_object_new_boolean(v->parse_r >= 0 && yes);
}

static struct json_object *json_token(int id, const struct token *tok, const struct verdict *v)
{
	struct json_object *o = json_object_new_object();
	struct json_object *pcrs = json_object_new_array();
	struct json_object *changed = json_object_new_array();
	struct json_object *events = json_object_new_array();
	char when[64], buf[640];
	struct tm tm;

	json_object_object_add(o, "id", json_object_new_int(id));
	json_object_object_add(o, "keyslot", json_object_new_int(tok->keyslot));
	json_object_object_add(o, "valid", json_object_new_boolean(v->parse_r >= 0));
	if (v->parse_r < 0)
		json_object_object_add(
			o, "problem",
			json_object_new_string(v->why ? v->why : "cannot read the token"));
	if (v->parse_r >= 0) {
		gmtime_r(&tok->created, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_object_object_add(o, "bank", json_object_new_string(pcr_bank_name(tok->bank)));
		json_object_object_add(o, "states", json_object_new_int((int)tok->n_states));
		json_object_object_add(o, "created", json_object_new_string(when));
		json_object_object_add(
			o, "mode",
			json_object_new_string(token_authorized(tok) ? "authorized" : "literal"));
		if (token_authorized(tok)) {
			json_object_object_add(o, "nv_index", json_object_new_int64(tok->nv_index));
			json_object_object_add(o, "approved_states", json_approved(tok, v));
			json_object_object_add(o, "interrupted_approval",
					       json_object_new_boolean(tok->has_previous));
		}
		FOREACH_PCR_IN_MASK(pcr, tok->pcr_mask)
			json_object_array_add(pcrs, json_object_new_int((int)pcr));
		FOREACH_PCR_IN_MASK(pcr, v->c.changed)
			json_object_array_add(changed, json_object_new_int((int)pcr));
	}
	json_object_object_add(o, "pcrs", pcrs);
	json_object_object_add(o, "changed_pcrs", changed);
	explain(tok, v, add_event_line, events);
	json_object_object_add(o, "changed_events", events);
	json_object_object_add(o, "same_tpm",
			       v->parse_r < 0 ? NULL : json_tristate(v, v->v != UNLOCK_OTHER_TPM));
	json_object_object_add(
		o, "unlock", json_tristate(v, v->v == UNLOCK_APPROVED || v->v == UNLOCK_NEXT_BOOT));
	json_object_object_add(o, "verdict",
			       json_object_new_string(verdict_text(tok, v, buf, sizeof(buf))));
	return o;
}

/* The recovery keys: keyslot and creation time, in text or into the JSON array list. */
static int list_recovery_keys(struct crypt_device *cd, struct json_object *list)
{
	char when[64];
	time_t created;
	struct tm tm;
	int id, slot, n = 0;

	for (id = recovery_token_next(cd, 0, &slot, &created); id >= 0;
	     id = recovery_token_next(cd, id + 1, &slot, &created), n++) {
		struct json_object *o;

		when[0] = '\0';
		if (created && gmtime_r(&created, &tm))
			strftime(when, sizeof(when),
				 list ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm);
		if (!list) {
			printf("Token %d: %s (a recovery key), keyslot %d\n  Created:   %s\n", id,
			       OYSTER_RECOVERY_TOKEN_TYPE, slot, *when ? when : "unknown");
			continue;
		}
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_int(id));
		json_object_object_add(o, "keyslot", json_object_new_int(slot));
		json_object_object_add(o, "created", *when ? json_object_new_string(when) : NULL);
		json_object_array_add(list, o);
	}
	return n;
}

static const char *fallback_text(const char *reason)
{
	static const struct {
		const char *reason, *text;
	} texts[] = {
		{ "pcr-changed", "the measured boot state (PCRs) changed" },
		{ "no-tpm", "no TPM was found" },
		{ "pin", "no valid TPM PIN was given" },
		{ "lockout", "the TPM was in dictionary-attack lockout" },
		{ "other-tpm", "the volume was enrolled with another TPM" },
		{ "no-oyster", "oyster was missing from the initramfs" },
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (!strcmp(reason, texts[i].reason))
			return texts[i].text;
	return "oyster could not unseal";
}

/* Whether the token approves the state of now, the boot fence's PCRs aside. */
static bool approves_now(const struct verdict *v)
{
	if (v->parse_r < 0)
		return false;
	return v->v == UNLOCK_APPROVED || v->v == UNLOCK_FENCE || v->v == UNLOCK_NEXT_BOOT;
}

static void print_fallback(const char *device, const char *reason, uint32_t changed, bool approved)
{
	char pcrs[512];

	printf("Last boot: the TPM did NOT unlock this volume (%s); the passphrase or a recovery "
	       "key opened it.\n",
	       fallback_text(reason));
	if (changed) {
		pcr_describe(changed, pcrs, sizeof(pcrs));
		printf("  changed since enrollment: %s\n", pcrs);
	}
	if (approved)
		printf("  this boot has been approved since (oyster reseal): the next boot unlocks "
		       "through the TPM\n");
	else
		printf("  if this boot is one you trust, approve it: oyster reseal %s\n", device);
}

static struct json_object *json_fallback(const char *reason, uint32_t changed)
{
	struct json_object *o = json_object_new_object();
	struct json_object *pcrs = json_object_new_array();

	json_object_object_add(o, "fell_back", json_object_new_boolean(reason != NULL));
	if (reason) {
		json_object_object_add(o, "reason", json_object_new_string(reason));
		FOREACH_PCR_IN_MASK(pcr, changed)
			json_object_array_add(pcrs, json_object_new_int((int)pcr));
	}
	json_object_object_add(o, "changed_pcrs", pcrs);
	return o;
}

/* The header's two copies as they are on disk, after libcryptsetup's own recovery. */
static struct json_object *json_header(const struct header *h)
{
	struct json_object *o = json_object_new_object();
	int used = header_in_use(h);

	json_object_object_add(o, "copies_agree", json_object_new_boolean(header_copies_agree(h)));
	json_object_object_add(o, "in_use",
			       used < 0 ? NULL : json_object_new_string(header_copy_name(used)));
	for (int i = 0; i < 2; i++) {
		const struct header_copy *c = &h->copy[i];
		struct json_object *copy = json_object_new_object();

		json_object_object_add(copy, "intact", json_object_new_boolean(c->intact));
		json_object_object_add(copy, "seqid",
				       c->found ? json_object_new_int64((int64_t)c->seqid) : NULL);
		json_object_object_add(o, header_copy_name(i), copy);
	}
	if (!header_copies_agree(h))
		json_object_object_add(o, "problem", json_object_new_string(header_difference(h)));
	return o;
}

int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct json_object *root = NULL, *list = NULL, *recovery = NULL;
	struct crypt_device *cd = NULL;
	struct token *tok = NULL;
	struct tpm *t = NULL;
	struct header hdr = { 0 };
	bool as_json = false;
	uint32_t changed = 0;
	bool approved = true;
	const char *fell_back, *why = NULL;
	char record[256];
	int c, id, n = 0, r, header_r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return OYSTER_EXIT_OK;
		default:
			return usage_error("status", "unknown option");
		}
	}
	if (optind != argc - 1)
		return usage_error("status", "expected exactly one DEVICE");
	tok = calloc(1, sizeof(*tok));
	if (!tok)
		return OYSTER_EXIT_FAILURE;
	r = luks_open(argv[optind], &cd);
	if (r < 0)
		goto out;
	boot_warn_systemd_options(argv[optind]);
	/* Without a TPM, status still lists what is enrolled. */
	if (tpm_open(&t) < 0)
		t = NULL;
	header_r = header_read(cd, &hdr);
	if (as_json) {
		root = json_object_new_object();
		list = json_object_new_array();
		json_object_object_add(root, "device", json_object_new_string(argv[optind]));
		json_object_object_add(root, "tpm", json_object_new_boolean(t != NULL));
		if (header_r == 0)
			json_object_object_add(root, "header", json_header(&hdr));
		json_object_object_add(root, "tokens", list);
		recovery = json_object_new_array();
		json_object_object_add(root, "recovery_keys", recovery);
	} else if (header_r == 0 && !header_copies_agree(&hdr)) {
		printf("LUKS2 header: the two copies DISAGREE: %s; libcryptsetup uses the %s "
		       "copy.\n"
		       "  Back the header up (cryptsetup luksHeaderBackup), then run: cryptsetup "
		       "repair "
		       "%s\n",
		       header_difference(&hdr), header_copy_name(header_in_use(&hdr)),
		       argv[optind]);
	}
	for (id = luks_token_scan(cd, 0, tok, &r, &why); id >= 0;
	     id = luks_token_scan(cd, id + 1, tok, &r, &why)) {
		struct verdict v = { .parse_r = r, .why = r < 0 ? why : NULL, .c.state = -ENODEV };

		if (r >= 0)
			v.v = unlock_check(t, tok, &v.c);
		if (v.parse_r >= 0)
			changed |= v.c.changed & ~token_fence_pcrs(tok);
		approved &= approves_now(&v);
		if (as_json)
			json_object_array_add(list, json_token(id, tok, &v));
		else
			print_text(id, tok, &v);
		n++;
	}
	approved = approved && n > 0;
	n += list_recovery_keys(cd, recovery);
	fell_back = fallback_reason(crypt_get_uuid(cd), record, sizeof(record));
	if (as_json)
		json_object_object_add(root, "last_boot", json_fallback(fell_back, changed));
	else if (fell_back)
		print_fallback(argv[optind], fell_back, changed, approved);
	if (as_json)
		printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY));
	else if (!n)
		printf("%s has no oyster token; enroll it with: oyster enroll %s\n", argv[optind],
		       argv[optind]);
	r = 0;
out:
	json_object_put(root);
	header_free(&hdr);
	tpm_close(t);
	crypt_free(cd);
	free(tok);
	return exit_status(r);
}
