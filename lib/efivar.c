// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * PCR 7 after a Secure Boot database update. Only the event of the updated
 * variable is re-measured; what else the update could change in PCR 7 is
 * refused rather than guessed: a deleted variable changes the SecureBoot
 * and SetupMode state, and a db replaced (not appended to) may change which
 * db entry verifies the boot loader (its EV_EFI_VARIABLE_AUTHORITY event).
 * An append leaves the entries in place before the new ones, and EDK2
 * reports the first db entry that verifies an image, so appends keep the
 * authority events.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authority.h"
#include "sbat.h"
#include "efisig.h"
#include "efivar.h"
#include "file.h"
#include "log.h"

#define SECURE_BOOT_PCR 7
#define EV_EFI_VARIABLE_DRIVER_CONFIG 0x80000001u
#define EV_EFI_VARIABLE_AUTHORITY 0x800000e0u
#define EV_EFI_VARIABLE_BOOT 0x80000002u
#define EV_EFI_VARIABLE_BOOT2 0x8000000cu
#define VAR_DATA_HEADER 32u /* VariableName GUID, UnicodeNameLength, VariableDataLength */
#define ATTRIBUTES_SIZE 4u  /* efivarfs files start with the attributes */

/* The vendor GUID of a variable: as efivarfs names it, and as the event log holds it. */
struct vendor {
	const char *text;
	uint8_t guid[16];
};

static const struct vendor global_variable = {
	/* EFI_GLOBAL_VARIABLE */
	"8be4df61-93ca-11d2-aa0d-00e098032b8c",
	{ 0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b,
	  0x8c },
};

static const struct vendor security_database = {
	/* EFI_IMAGE_SECURITY_DATABASE_GUID */
	"d719b2cb-3d3a-4596-a3bc-dad00e67656f",
	{ 0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45, 0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65,
	  0x6f },
};

static const struct vendor shim_lock = {
	/* SHIM_LOCK_GUID: shim's own variables (SbatLevel, MokList...) */
	"605dab50-e046-4300-abb6-3dd810dd8b23",
	{ 0x50, 0xab, 0x5d, 0x60, 0x46, 0xe0, 0x00, 0x43, 0xab, 0xb6, 0x3d, 0xd8, 0x10, 0xdd, 0x8b,
	  0x23 },
};

static const struct {
	const char *name;
	const struct vendor *vendor;
} variables[] = {
	{ "PK", &global_variable },
	{ "KEK", &global_variable },
	{ "db", &security_database },
	{ "dbx", &security_database },
};

static int lookup(const char *var)
{
	for (size_t i = 0; i < sizeof(variables) / sizeof(variables[0]); i++)
		if (!strcmp(var, variables[i].name))
			return (int)i;
	return -EINVAL;
}

int efivar_known(const char *var)
{
	return lookup(var) < 0 ? -EINVAL : 0;
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (unsigned i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

bool efivar_event_name(const struct eventlog_event *ev, char *buf, size_t size)
{
	uint64_t n;

	if ((ev->type != EV_EFI_VARIABLE_DRIVER_CONFIG && ev->type != EV_EFI_VARIABLE_BOOT &&
	     ev->type != EV_EFI_VARIABLE_BOOT2 && ev->type != EV_EFI_VARIABLE_AUTHORITY) ||
	    ev->data_len < VAR_DATA_HEADER)
		return false;
	n = get_u64(ev->data + 16);
	if (n == 0 || n >= size || n > (ev->data_len - VAR_DATA_HEADER) / 2)
		return false;
	for (uint64_t i = 0; i < n; i++) {
		uint8_t lo = ev->data[VAR_DATA_HEADER + 2 * i],
			hi = ev->data[VAR_DATA_HEADER + 2 * i + 1];

		if (hi || lo < 0x20 || lo > 0x7e)
			return false;
	}
	for (uint64_t i = 0; i < n; i++)
		buf[i] = (char)ev->data[VAR_DATA_HEADER + 2 * i];
	buf[n] = 0;
	return true;
}

/* Whether ev's data is the UEFI_VARIABLE_DATA of variable v; *content gets its VariableData. */
static bool is_variable(const struct eventlog_event *ev, int v, const uint8_t **content,
			size_t *content_len)
{
	const char *name = variables[v].name;
	size_t n = strlen(name);
	uint64_t name_len, data_len;

	if (ev->pcr != SECURE_BOOT_PCR || ev->type != EV_EFI_VARIABLE_DRIVER_CONFIG ||
	    ev->data_len < VAR_DATA_HEADER || memcmp(ev->data, variables[v].vendor->guid, 16))
		return false;
	name_len = get_u64(ev->data + 16);
	data_len = get_u64(ev->data + 24);
	if (name_len != n || data_len != ev->data_len - VAR_DATA_HEADER - 2 * n ||
	    ev->data_len < VAR_DATA_HEADER + 2 * n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (ev->data[VAR_DATA_HEADER + 2 * i] != (uint8_t)name[i] ||
		    ev->data[VAR_DATA_HEADER + 2 * i + 1])
			return false;
	*content = ev->data + VAR_DATA_HEADER + 2 * n;
	*content_len = (size_t)data_len;
	return true;
}

/* A whole file, at most max bytes; -ENOENT quietly when there is none. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	int r = file_read(path, max, out, len);

	if (r == -EFBIG)
		log_err("%s is larger than %zu KiB: no Secure Boot database is.", path, max >> 10);
	else if (r < 0 && r != -ENOENT)
		log_err("Cannot read %s: %s.", path, strerror(-r));
	return r;
}

/* The variable's content now: efivarfs's file without its attributes; none is empty. */
/* NAME-GUID in efivarfs dir without its attributes; a missing file is an empty variable. */
static int read_var(const char *dir, const char *name, const char *guid, uint8_t **out, size_t *len)
{
	char path[4096];
	uint8_t *buf;
	size_t n;
	int r;

	snprintf(path, sizeof(path), "%s/%s-%s", dir, name, guid);
	r = read_file(path, OYSTER_EFISIG_MAX_SIZE + ATTRIBUTES_SIZE, &buf, &n);
	if (r == -ENOENT) {
		*out = NULL;
		*len = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (n < ATTRIBUTES_SIZE) {
		log_err("%s has %zu bytes, fewer than the 4 of the attributes efivarfs puts first.",
			path, n);
		free(buf);
		return -EINVAL;
	}
	memmove(buf, buf + ATTRIBUTES_SIZE, n - ATTRIBUTES_SIZE);
	*out = buf;
	*len = n - ATTRIBUTES_SIZE;
	return 0;
}

static int read_current(const char *dir, int v, uint8_t **out, size_t *len)
{
	return read_var(dir, variables[v].name, variables[v].vendor->text, out, len);
}

/* The digest in bank b that ev would have with content (len bytes) after its name (head bytes). */
static int hash_with(const struct eventlog *log, int b, const struct eventlog_event *ev,
		     size_t head, const uint8_t *content, size_t len, uint8_t *digest)
{
	uint8_t *data = malloc(head + len + 1);
	int r;

	if (!data)
		return -ENOMEM;
	memcpy(data, ev->data, head);
	put_u64(data + 24, len);
	memcpy(data + head, content, len);
	r = eventlog_hash(log->banks[b], data, head + len, digest);
	free(data);
	return r;
}

/* 0 when ev's digest in bank b is the hash of its data, as the PFP measures variables. */
static int hashed_as_data(const struct eventlog *log, int b, const struct eventlog_event *ev)
{
	uint8_t digest[OYSTER_MAX_DIGEST];
	int r;

	r = eventlog_hash(log->banks[b], ev->data, ev->data_len, digest);
	if (r < 0)
		return r;
	return ev->digest[b] && !memcmp(ev->digest[b], digest, log->sizes[b]) ? 0 : -EMEDIUMTYPE;
}

/* ev re-measured with content: its digest in bank b replaced; PCR 7 in *changed if it moved. */
static int remeasure(struct eventlog *log, int b, struct eventlog_event *ev, size_t head,
		     const uint8_t *content, size_t len, uint32_t *changed)
{
	uint8_t digest[OYSTER_MAX_DIGEST];
	int r;

	r = hash_with(log, b, ev, head, content, len, digest);
	if (r == 0 && memcmp(ev->digest[b], digest, log->sizes[b])) {
		memcpy(ev->digest[b], digest, log->sizes[b]);
		*changed |= 1u << SECURE_BOOT_PCR;
	}
	return r;
}

/* The one PCR 7 event measuring v, its content checked against efivarfs and its digest. */
static int find_event(struct eventlog *log, int b, int v, const char *dir,
		      struct eventlog_event **out)
{
	const char *name = variables[v].name;
	uint8_t *cur = NULL;
	const uint8_t *content = NULL;
	size_t content_len = 0, cur_len = 0;
	struct eventlog_event *found = NULL;
	int r;

	for (unsigned i = 0; i < log->n_events; i++) {
		const uint8_t *c;
		size_t cl;

		if (!is_variable(&log->events[i], v, &c, &cl))
			continue;
		if (found) {
			log_err("The event log measures %s twice into PCR 7 (events %u and %u); "
				"which one an update changes cannot be told.",
				name, found->index, log->events[i].index);
			return -EMEDIUMTYPE;
		}
		found = &log->events[i];
		content = c;
		content_len = cl;
	}
	if (!found) {
		log_err("--efi-update %s: no EV_EFI_VARIABLE_DRIVER_CONFIG event of the event log "
			"measures %s into PCR 7, so its update cannot be predicted.",
			name, name);
		return -ENOENT;
	}
	r = hashed_as_data(log, b, found);
	if (r == -EMEDIUMTYPE)
		log_err("The firmware measured %s (PCR 7 event %u) as something other than the "
			"hash of its UEFI_VARIABLE_DATA, so its update cannot be predicted.",
			name, found->index);
	if (r < 0)
		return r;
	r = read_current(dir, v, &cur, &cur_len);
	if (r < 0)
		return r;
	if (cur_len != content_len || (cur_len && memcmp(cur, content, cur_len))) {
		log_err("%s in %s differs from the %s this boot measured (PCR 7 event %u): it "
			"changed since this boot, so this log cannot predict the next; predict "
			"before applying an update, or after a reboot.",
			name, dir, name, found->index);
		r = -ESTALE;
	}
	free(cur);
	*out = found;
	return r;
}

/* A PCR 7 authority event naming a db entry (not shim's own: "Shim", "MokList"). */
static int authority_event(const struct eventlog *log)
{
	char name[8];

	for (unsigned i = 0; i < log->n_events; i++)
		if (log->events[i].pcr == SECURE_BOOT_PCR &&
		    log->events[i].type == EV_EFI_VARIABLE_AUTHORITY &&
		    efivar_event_name(&log->events[i], name, sizeof(name)) && !strcmp(name, "db"))
			return (int)log->events[i].index;
	return -1;
}

/* Content after one update; *content is replaced (freed) on success. */
static int apply_one(const struct eventlog *log, const struct efi_update *u, uint8_t **content,
		     size_t *len)
{
	struct efisig_auth auth;
	char what[300];
	uint8_t *file = NULL, *next = NULL;
	size_t file_len, next_len;
	unsigned added = 0;
	int r, authority;

	snprintf(what, sizeof(what), "--efi-%s %s=%s", u->append ? "update" : "replace", u->var,
		 u->file);
	r = read_file(u->file, OYSTER_EFISIG_MAX_SIZE + 65536, &file, &file_len);
	if (r == -ENOENT)
		log_err("%s: no such file.", what);
	if (r < 0)
		return r;
	r = efisig_parse_auth(file, file_len, what, &auth);
	if (r < 0)
		goto out;
	r = -ENOTSUP;
	authority = authority_event(log);
	if (!u->append && !auth.esl_len) {
		log_err("%s: an empty replacement deletes %s, which changes the Secure Boot mode "
			"that PCR 7 also measures; oyster does not predict it.",
			what, u->var);
		goto out;
	}
	if (!u->append && !strcmp(u->var, "db") && authority >= 0) {
		log_err("%s: a new db may change which entry verifies the boot loader (PCR 7 "
			"EV_EFI_VARIABLE_AUTHORITY event %d), which cannot be told offline; "
			"append instead, or approve the next boot with oyster reseal --next-boot.",
			what, authority);
		goto out;
	}
	if (u->append) {
		r = efisig_append(*content, *len, auth.esl, auth.esl_len, &next, &next_len, &added);
		if (r < 0)
			goto out;
		log_info("%s appends %u of its signatures to %s.", what, added, u->var);
	} else {
		r = -ENOMEM;
		next = malloc(auth.esl_len + 1);
		if (!next)
			goto out;
		memcpy(next, auth.esl, auth.esl_len);
		next_len = auth.esl_len;
	}
	free(*content);
	*content = next;
	*len = next_len;
	r = 0;
out:
	free(file);
	return r;
}

/*
 * The content of variable v after the updates of u that name it, from what
 * the log measured (found equal to efivarfs): *content malloc'ed.
 */
static int content_after(struct eventlog *log, int b, int v, const struct efi_update *u, unsigned n,
			 const char *efivars, struct eventlog_event **ev, uint8_t **content,
			 size_t *len)
{
	size_t name_len = strlen(variables[v].name);
	int r;

	*content = NULL;
	r = find_event(log, b, v, efivars, ev);
	if (r < 0)
		return r;
	*len = (*ev)->data_len - VAR_DATA_HEADER - 2 * name_len;
	*content = malloc(*len + 1);
	if (!*content)
		return -ENOMEM;
	memcpy(*content, (*ev)->data + VAR_DATA_HEADER + 2 * name_len, *len);
	r = efisig_check(*content, *len, variables[v].name, NULL);
	for (unsigned j = 0; j < n && r == 0; j++)
		if (!strcmp(u[j].var, variables[v].name))
			r = apply_one(log, &u[j], content, len);
	if (r < 0) {
		free(*content);
		*content = NULL;
	}
	return r;
}

static const char *efivars_dir(const char *efivars)
{
	const char *env = getenv("OYSTER_EFIVARS");

	if (efivars)
		return efivars;
	return env && *env ? env : OYSTER_EFIVARS_DEFAULT;
}

int efivar_apply(struct eventlog *log, uint16_t bank, const struct efi_update *u, unsigned n,
		 const char *efivars, uint32_t *changed)
{
	int b = eventlog_bank(log, bank);

	efivars = efivars_dir(efivars);
	if (b < 0)
		return -ENOENT;
	for (unsigned i = 0; i < n; i++) {
		struct eventlog_event *ev;
		uint8_t *content = NULL;
		size_t len = 0;
		bool seen = false;
		int v = lookup(u[i].var), r;

		for (unsigned j = 0; j < i; j++)
			seen |= !strcmp(u[j].var, u[i].var);
		if (seen)
			continue;
		if (v < 0)
			return -EINVAL;
		r = content_after(log, b, v, u + i, n - i, efivars, &ev, &content, &len);
		if (r == 0)
			r = remeasure(log, b, ev, VAR_DATA_HEADER + 2 * strlen(variables[v].name),
				      content, len, changed);
		free(content);
		if (r < 0)
			return r;
	}
	return 0;
}

int efivar_check_authority(struct eventlog *log, uint16_t bank, const struct efi_update *u,
			   unsigned n, const char *efivars, const char *loader, const char *current)
{
	const uint8_t *old_e = NULL, *new_e = NULL;
	uint8_t *before = NULL, *after = NULL;
	size_t before_len = 0, after_len = 0, old_len = 0, new_len = 0;
	struct eventlog_event *ev;
	int b = eventlog_bank(log, bank), v = lookup("db"), authority = authority_event(log);
	char was[300], will[300];
	int r;

	if (authority < 0)
		return 0;
	if (b < 0)
		return -ENOENT;
	efivars = efivars_dir(efivars);
	r = content_after(log, b, v, NULL, 0, efivars, &ev, &before, &before_len);
	if (r == 0)
		r = content_after(log, b, v, u, n, efivars, &ev, &after, &after_len);
	if (r == 0)
		r = authority_anchor(current, before, before_len, &old_e, &old_len);
	if (r == 0)
		r = authority_anchor(loader, after, after_len, &new_e, &new_len);
	if (r == 0 && (old_len != new_len || (old_e && memcmp(old_e, new_e, old_len)))) {
		authority_describe(old_e, old_len, was, sizeof(was));
		authority_describe(new_e, new_len, will, sizeof(will));
		log_err("--boot-loader %s: %s verifies it where %s verified %s, so PCR 7's "
			"authority events (event %d) change in a way oyster does not predict; "
			"approve the next boot with oyster reseal --next-boot instead.",
			loader, will, was, current, authority);
		r = -ENOTSUP;
	}
	free(before);
	free(after);
	return r;
}

/* The one PCR 7 event of type measuring variable name of vendor; its content. */
static struct eventlog_event *measured(struct eventlog *log, uint32_t type, const char *name,
				       const struct vendor *vendor, const uint8_t **content,
				       size_t *len)
{
	struct eventlog_event *found = NULL;
	size_t n = strlen(name);
	char got[32];

	for (unsigned i = 0; i < log->n_events; i++) {
		struct eventlog_event *ev = &log->events[i];

		if (ev->pcr != SECURE_BOOT_PCR || ev->type != type ||
		    !efivar_event_name(ev, got, sizeof(got)) || strcmp(got, name) ||
		    memcmp(ev->data, vendor->guid, 16) ||
		    get_u64(ev->data + 24) != ev->data_len - VAR_DATA_HEADER - 2 * n)
			continue;
		if (found)
			return NULL;
		found = ev;
	}
	if (found) {
		*content = found->data + VAR_DATA_HEADER + 2 * n;
		*len = found->data_len - VAR_DATA_HEADER - 2 * n;
	}
	return found;
}

int efivar_apply_shim(struct eventlog *log, uint16_t bank, const char *shim, const char *efivars,
		      uint32_t *changed)
{
	const uint8_t *cur = NULL, *sb = NULL;
	uint8_t *next = NULL, *policy = NULL, *insecure = NULL, *rt = NULL;
	size_t cur_len = 0, sb_len = 0, next_len = 0, policy_len = 0, insecure_len = 0, rt_len = 0;
	size_t head = VAR_DATA_HEADER + 2 * strlen("SbatLevel");
	struct eventlog_event *ev;
	int b = eventlog_bank(log, bank), r;

	efivars = efivars_dir(efivars);
	if (b < 0)
		return -ENOENT;
	ev = measured(log, EV_EFI_VARIABLE_AUTHORITY, "SbatLevel", &shim_lock, &cur, &cur_len);
	if (!ev) {
		log_err("--shim %s: this boot's event log has not exactly one SbatLevel event in "
			"PCR 7 (a shim before 15.3, or no shim), so the new one cannot be placed; "
			"approve the next boot with oyster reseal --next-boot instead.",
			shim);
		return -ENOENT;
	}
	r = hashed_as_data(log, b, ev);
	if (r == -EMEDIUMTYPE)
		log_err("--shim %s: shim measured SbatLevel (PCR 7 event %u) as something other "
			"than the hash of its UEFI_VARIABLE_DATA, so its change cannot be "
			"predicted.",
			shim, ev->index);
	if (r < 0)
		return r;
	/* shim mirrors SbatLevel (boot services only) as SbatLevelRT for the OS. */
	r = read_var(efivars, "SbatLevelRT", shim_lock.text, &rt, &rt_len);
	if (r == 0 && rt && (rt_len != cur_len || memcmp(rt, cur, cur_len))) {
		log_err("--shim %s: SbatLevelRT in %s differs from the SbatLevel this boot "
			"measured (PCR 7 event %u); predict after a reboot.",
			shim, efivars, ev->index);
		r = -ESTALE;
	}
	if (r == 0)
		r = read_var(efivars, "SbatPolicy", shim_lock.text, &policy, &policy_len);
	if (r == 0)
		r = read_var(efivars, "MokSBStateRT", shim_lock.text, &insecure, &insecure_len);
	if (r == 0) {
		/* shim's secure_mode(): Secure Boot on, and not turned off through MokSBState. */
		bool secure = measured(log, EV_EFI_VARIABLE_DRIVER_CONFIG, "SecureBoot",
				       &global_variable, &sb, &sb_len) &&
			      sb_len == 1 && sb[0] == 1 && !(insecure_len && insecure[0]);

		r = sbat_next_level(shim, cur, cur_len, policy_len ? policy[0] : 0, secure, &next,
				    &next_len);
	}
	if (r == 0)
		r = remeasure(log, b, ev, head, next, next_len, changed);
	if (r == 0) {
		bool same = next_len == cur_len && !memcmp(next, cur, cur_len);

		log_info("--shim %s: SbatLevel %s.", shim, same ? "stays as it is" : "changes");
	}
	free(next);
	free(policy);
	free(insecure);
	free(rt);
	return r;
}

unsigned efivar_appended(const struct eventlog *log, int b, const struct eventlog_event *ev,
			 const uint8_t *recorded, size_t recorded_len)
{
	uint8_t digest[OYSTER_MAX_DIGEST];
	const uint8_t *content = NULL;
	size_t len = 0, off = 0, at;
	struct efisig_list l;
	unsigned added = 0;
	int v = -1;

	for (int i = 0; i < (int)(sizeof(variables) / sizeof(variables[0])) && v < 0; i++)
		if (is_variable(ev, i, &content, &len))
			v = i;
	/* Quietly: status explains a refusal, it does not judge the firmware's lists. */
	if (v < 0 || b < 0 || recorded_len > log->sizes[b] ||
	    efisig_check(content, len, NULL, NULL) < 0)
		return 0;
	/* EDK2 appends after what is there: the old content ends at a list boundary. */
	for (at = 0; at < len; at = off) {
		if (hash_with(log, b, ev, (size_t)(content - ev->data), content, at, digest) == 0 &&
		    !memcmp(digest, recorded, recorded_len)) {
			efisig_check(content + at, len - at, NULL, &added);
			break;
		}
		if (!efisig_next(content, len, &off, &l))
			break;
	}
	return added;
}
