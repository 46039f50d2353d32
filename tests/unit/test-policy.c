// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Offline policy digests against a TPM's own arithmetic: tpm2-tools drive
 * trial sessions on a private swtpm (PolicyPCR with the PCR values given in
 * a file, so the emulator's own PCRs play no part). A trial session is
 * needed because tpm2_createpolicy has no offline mode; the TPM is started
 * here, on a unix socket in a temporary directory, so that the test needs
 * neither a port nor the host's TPM.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "policy.h"
#include "test.h"

#define BIT(n) (1u << (n))

static const struct {
	const char *name, *openssl;
	uint16_t alg;
} banks[] = {
	{ "sha1", "SHA1", TPM2_ALG_SHA1 },
	{ "sha256", "SHA256", TPM2_ALG_SHA256 },
	{ "sha384", "SHA384", TPM2_ALG_SHA384 },
	{ "sha512", "SHA512", TPM2_ALG_SHA512 },
};

static char work[] = "/tmp/oyster-test-policy.XXXXXX";
static char tools[PATH_MAX];
static char tcti[PATH_MAX + 32];
static bool work_made;
static pid_t swtpm_pid;

static void fill_random(void *buf, size_t n)
{
	if (getrandom(buf, n, 0) != (ssize_t)n) {
		perror("getrandom");
		exit(99);
	}
}

static const char *file(const char *name)
{
	static char path[32][sizeof(work) + 64];
	static unsigned next;
	char *p = path[next++ % 32];

	snprintf(p, sizeof(path[0]), "%s/%s", work, name);
	return p;
}

static size_t bank_size(uint16_t alg)
{
	for (size_t i = 0; i < sizeof(banks) / sizeof(banks[0]); i++) {
		if (banks[i].alg == alg)
			return (size_t)EVP_MD_get_size(EVP_get_digestbyname(banks[i].openssl));
	}
	return 0;
}

static const char *bank_name(uint16_t alg)
{
	for (size_t i = 0; i < sizeof(banks) / sizeof(banks[0]); i++) {
		if (banks[i].alg == alg)
			return banks[i].name;
	}
	return "?";
}

static void print_hex(const char *what, const uint8_t *d, size_t n)
{
	fprintf(stderr, "  %s ", what);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x", d[i]);
	fputc('\n', stderr);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (swtpm_pid > 0) {
		kill(swtpm_pid, SIGTERM);
		waitpid(swtpm_pid, NULL, 0);
		swtpm_pid = 0;
	}
	if (work_made)
		nftw(work, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	work_made = false;
}

static void setup_failed(const char *what)
{
	FILE *log = work_made ? fopen(file("swtpm.log"), "r") : NULL;
	char line[256];

	fprintf(stderr, "setup failed: %s\n", what);
	while (log && fgets(line, sizeof(line), log))
		fprintf(stderr, "  swtpm: %s", line);
	if (log)
		fclose(log);
	cleanup();
	exit(99);
}

/* Runs argv (argv[0] a path) with stdout discarded; 0 when it exits with 0, else -1. */
static int run(const char *const *argv)
{
	int status;
	pid_t pid;

	pid = fork();
	if (pid < 0)
		setup_failed("fork");
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		setup_failed("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "  %s exited with %d\n", argv[0],
			WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return -1;
	}
	return 0;
}

static const char *tool(const char *name)
{
	static char path[8][PATH_MAX + 64];
	static unsigned next;
	char *p = path[next++ % 8];

	snprintf(p, sizeof(path[0]), "%s/%s", tools, name);
	return p;
}

static void write_file(const char *path, const uint8_t *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, n, f) != n || fclose(f))
		setup_failed(path);
}

static int read_digest(const char *path, uint8_t out[OYSTER_POLICY_SIZE])
{
	FILE *f = fopen(path, "rb");
	uint8_t extra;
	int r = -1;

	if (!f)
		return -1;
	if (fread(out, 1, OYSTER_POLICY_SIZE, f) == OYSTER_POLICY_SIZE && !fread(&extra, 1, 1, f))
		r = 0;
	fclose(f);
	return r;
}

/*
 * The file tpm2_policypcr -f reads: the selected values, bank-sized,
 * concatenated in ascending PCR order, nothing else (tpm2-tools refuse a
 * file of another size). sel gets the matching list, e.g. "sha256:0,7".
 */
static void write_pcr_file(const char *path, uint16_t bank, uint32_t mask,
			   const struct pcr_state *state, char *sel, size_t sel_size)
{
	uint8_t values[OYSTER_PCR_COUNT * OYSTER_MAX_DIGEST];
	size_t size = bank_size(bank), n = 0, off;

	off = (size_t)snprintf(sel, sel_size, "%s:", bank_name(bank));
	for (unsigned pcr = 0; pcr < OYSTER_PCR_COUNT; pcr++) {
		if (!(mask & BIT(pcr)))
			continue;
		memcpy(values + n, state->value[pcr], size);
		n += size;
		off += (size_t)snprintf(sel + off, sel_size - off, "%s%u", n > size ? "," : "",
					pcr);
	}
	write_file(path, values, n);
}

/* The policy sessions of tpm2_createpolicy are left loaded; an swtpm holds three. */
static void flush_sessions(void)
{
	const char *argv[] = { tool("tpm2_flushcontext"), tcti, "--loaded-session", NULL };

	if (run(argv))
		setup_failed("tpm2_flushcontext --loaded-session");
}

static int ref_createpolicy(uint16_t bank, uint32_t mask, const struct pcr_state *state,
			    uint8_t out[OYSTER_POLICY_SIZE])
{
	char sel[128];
	const char *argv[] = { getenv("TPM2_CREATEPOLICY"),
			       tcti,
			       "--policy-pcr",
			       "-l",
			       sel,
			       "-f",
			       file("values"),
			       "-L",
			       file("policy"),
			       NULL };
	int r;

	write_pcr_file(file("values"), bank, mask, state, sel, sizeof(sel));
	remove(file("policy"));
	r = run(argv);
	flush_sessions();
	return r ? r : read_digest(file("policy"), out);
}

static void start_session(void)
{
	const char *argv[] = { tool("tpm2_startauthsession"), tcti, "-S", file("session"), NULL };

	if (run(argv))
		setup_failed("tpm2_startauthsession");
}

static void end_session(void)
{
	const char *argv[] = { tool("tpm2_flushcontext"), tcti, file("session"), NULL };

	if (run(argv))
		setup_failed("tpm2_flushcontext");
}

static int session_pcr(uint16_t bank, uint32_t mask, const struct pcr_state *state)
{
	char sel[128];
	const char *argv[] = { tool("tpm2_policypcr"),
			       tcti,
			       "-S",
			       file("session"),
			       "-l",
			       sel,
			       "-f",
			       file("values"),
			       "-L",
			       file("policy"),
			       NULL };

	write_pcr_file(file("values"), bank, mask, state, sel, sizeof(sel));
	return run(argv);
}

/* PolicyOR in the open trial session, with digests written to files b0..b7. */
static int session_or(const uint8_t (*branches)[OYSTER_POLICY_SIZE], unsigned n)
{
	char list[16 * (sizeof(work) + 64)];
	const char *argv[] = { tool("tpm2_policyor"), tcti, "-S", file("session"), "-l", list, "-L",
			       file("policy"),	      NULL };
	size_t off = (size_t)snprintf(list, sizeof(list), "sha256:");

	for (unsigned i = 0; i < n; i++) {
		const char *path;
		char name[16];

		snprintf(name, sizeof(name), "b%u", i);
		path = file(name);
		write_file(path, branches[i], OYSTER_POLICY_SIZE);
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? "," : "", path);
	}
	return run(argv);
}

static int find_in_path(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");

	while (path && *path) {
		size_t len = strcspn(path, ":");

		snprintf(out, size, "%.*s/%s", (int)len, path, name);
		if (len && !access(out, X_OK))
			return 0;
		path += len + (path[len] == ':');
	}
	return -1;
}

/* swtpm on a unix socket; the swtpm TCTI finds the control socket at path + ".ctrl". */
static void start_swtpm(const char *swtpm)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char state[sizeof(work) + 16], server[sizeof(work) + 64], ctrl[sizeof(work) + 64];
	const char *argv[] = { swtpm,
			       "socket",
			       "--tpm2",
			       "--tpmstate",
			       state,
			       "--server",
			       server,
			       "--ctrl",
			       ctrl,
			       "--flags",
			       "not-need-init,startup-clear",
			       NULL };

	snprintf(state, sizeof(state), "dir=%s", work);
	snprintf(server, sizeof(server), "type=unixio,path=%s/sock", work);
	snprintf(ctrl, sizeof(ctrl), "type=unixio,path=%s/sock.ctrl", work);
	snprintf(tcti, sizeof(tcti), "--tcti=swtpm:path=%s/sock", work);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", work);

	swtpm_pid = fork();
	if (swtpm_pid < 0)
		setup_failed("fork");
	if (swtpm_pid == 0) {
		/* swtpm reports every client disconnection; keep that out of the test's output. */
		int log = open(file("swtpm.log"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (log >= 0) {
			dup2(log, STDOUT_FILENO);
			dup2(log, STDERR_FILENO);
		}
		/* Never outlive the test, even when a timeout kills it. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execv(swtpm, (char *const *)argv);
		_exit(127);
	}
	for (unsigned i = 0; i < 200; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && !access(file("sock.ctrl"), F_OK) &&
		    !connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			close(fd);
			return;
		}
		if (fd >= 0)
			close(fd);
		if (waitpid(swtpm_pid, NULL, WNOHANG) == swtpm_pid) {
			swtpm_pid = 0;
			setup_failed("swtpm exited");
		}
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000 * 1000 }, NULL);
	}
	setup_failed("swtpm did not start in 10 s");
}

static void random_state(struct pcr_state *s)
{
	fill_random(s, sizeof(*s));
}

/* PolicyOR from its definition in TPM 2.0 Part 3, independently of policy.c. */
static void spec_or(const uint8_t old[OYSTER_POLICY_SIZE],
		    const uint8_t (*branches)[OYSTER_POLICY_SIZE], unsigned n,
		    uint8_t out[OYSTER_POLICY_SIZE])
{
	const uint8_t cc[4] = { TPM2_CC_PolicyOR >> 24, (TPM2_CC_PolicyOR >> 16) & 0xff,
				(TPM2_CC_PolicyOR >> 8) & 0xff, TPM2_CC_PolicyOR & 0xff };
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(ctx, old, OYSTER_POLICY_SIZE) || !EVP_DigestUpdate(ctx, cc, 4) ||
	    !EVP_DigestUpdate(ctx, branches, n * OYSTER_POLICY_SIZE) ||
	    !EVP_DigestFinal_ex(ctx, out, NULL))
		setup_failed("OpenSSL");
	EVP_MD_CTX_free(ctx);
}

/* What needs no TPM: argument checks, and what the result must and must not depend on. */
static void test_offline(void)
{
	static const uint8_t zero[OYSTER_POLICY_SIZE];
	uint8_t a[OYSTER_POLICY_SIZE], b[OYSTER_POLICY_SIZE], old[OYSTER_POLICY_SIZE];
	uint8_t branches[OYSTER_MAX_STATES + 1][OYSTER_POLICY_SIZE], want[OYSTER_POLICY_SIZE];
	struct pcr_state states[OYSTER_MAX_STATES + 1];
	const uint32_t mask = BIT(0) | BIT(7) | BIT(15);

	for (unsigned i = 0; i <= OYSTER_MAX_STATES; i++)
		random_state(&states[i]);
	fill_random(branches, sizeof(branches));
	fill_random(old, sizeof(old));

	CHECK(policy_pcr(NULL, TPM2_ALG_SHA256, 0, &states[0], a) == -EINVAL, "empty mask");
	CHECK(policy_pcr(NULL, TPM2_ALG_SHA256, BIT(24), &states[0], a) == -EINVAL, "PCR 24");
	CHECK(policy_pcr(NULL, TPM2_ALG_NULL, mask, &states[0], a) == -EINVAL, "bank NULL");
	CHECK(policy_pcr(NULL, TPM2_ALG_SHA3_256, mask, &states[0], a) == -EINVAL, "bank sha3");
	CHECK(policy_pcr(NULL, TPM2_ALG_SHA256, mask, NULL, a) == -EINVAL, "no state");

	/* NULL is all zeros; unselected PCRs and bytes past the bank's size do not count. */
	CHECK(!policy_pcr(NULL, TPM2_ALG_SHA256, mask, &states[0], a) &&
		      !policy_pcr(zero, TPM2_ALG_SHA256, mask, &states[0], b) && !memcmp(a, b, 32),
	      "old NULL differs from zeros");
	states[1] = states[0];
	states[1].value[1][0] ^= 1;
	states[1].value[7][20] ^= 1;
	CHECK(!policy_pcr(NULL, TPM2_ALG_SHA1, mask, &states[0], a) &&
		      !policy_pcr(NULL, TPM2_ALG_SHA1, mask, &states[1], b) && !memcmp(a, b, 32),
	      "unselected data changed the digest");
	CHECK(!policy_pcr(NULL, TPM2_ALG_SHA256, mask, &states[0], a) &&
		      !policy_pcr(NULL, TPM2_ALG_SHA256, mask, &states[1], b) && memcmp(a, b, 32),
	      "a selected byte did not change the digest");
	CHECK(!policy_pcr(old, TPM2_ALG_SHA256, mask, &states[0], b) && memcmp(a, b, 32),
	      "old did not change the digest");
	memcpy(b, old, sizeof(b));
	CHECK(!policy_pcr(b, TPM2_ALG_SHA256, mask, &states[0], b) &&
		      !policy_pcr(old, TPM2_ALG_SHA256, mask, &states[0], a) && !memcmp(a, b, 32),
	      "old and out may be the same buffer");

	CHECK(policy_or(NULL, (const uint8_t(*)[32])branches, 0, a) == -EINVAL, "OR of 0");
	CHECK(policy_or(NULL, (const uint8_t(*)[32])branches, 1, a) == -EINVAL, "OR of 1");
	CHECK(policy_or(NULL, (const uint8_t(*)[32])branches, 9, a) == -EINVAL, "OR of 9");
	CHECK(policy_or(NULL, NULL, 2, a) == -EINVAL, "OR of nothing");
	for (unsigned n = 2; n <= OYSTER_MAX_STATES; n++) {
		spec_or(zero, (const uint8_t(*)[32])branches, n, want);
		CHECK(!policy_or(NULL, (const uint8_t(*)[32])branches, n, a) &&
			      !memcmp(a, want, 32),
		      "OR of %u from NULL", n);
		/* The TPM always starts PolicyOR from zeros; old only exists for symmetry. */
		spec_or(old, (const uint8_t(*)[32])branches, n, want);
		CHECK(!policy_or(old, (const uint8_t(*)[32])branches, n, a) && !memcmp(a, want, 32),
		      "OR of %u from old", n);
	}

	CHECK(policy_for_states(TPM2_ALG_SHA256, mask, states, 0, branches, a) == -EINVAL,
	      "0 states");
	CHECK(policy_for_states(TPM2_ALG_SHA256, mask, states, 9, branches, a) == -EINVAL,
	      "9 states");
	CHECK(policy_for_states(TPM2_ALG_SHA256, 0, states, 2, branches, a) == -EINVAL,
	      "states with an empty mask");
	memset(branches, 0, sizeof(branches));
	CHECK(!policy_for_states(TPM2_ALG_SHA256, mask, states, 1, branches, a) &&
		      !policy_pcr(NULL, TPM2_ALG_SHA256, mask, &states[0], want) &&
		      !memcmp(a, want, 32) && !memcmp(branches[0], want, 32),
	      "one state is PolicyPCR alone");
	CHECK(!policy_for_states(TPM2_ALG_SHA256, mask, states, 1, NULL, b) && !memcmp(a, b, 32),
	      "branches may be NULL");
	for (unsigned n = 2; n <= OYSTER_MAX_STATES; n++) {
		uint8_t each[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE];
		int ok = !policy_for_states(TPM2_ALG_SHA384, mask, states, n, branches, a);

		for (unsigned i = 0; i < n; i++)
			ok = ok && !policy_pcr(NULL, TPM2_ALG_SHA384, mask, &states[i], each[i]) &&
			     !memcmp(each[i], branches[i], 32);
		spec_or(zero, (const uint8_t(*)[32])each, n, want);
		CHECK(ok && !memcmp(a, want, 32), "%u states", n);
	}
}

static void test_policy_pcr(void)
{
	/* tpm2-tools read at most 8 PCR values from a file, so no case selects more. */
	static const struct {
		uint16_t bank;
		uint32_t mask;
	} cases[] = {
		{ TPM2_ALG_SHA256, BIT(7) },
		{ TPM2_ALG_SHA256, BIT(0) | BIT(7) },
		{ TPM2_ALG_SHA256, BIT(0) | BIT(2) | BIT(4) | BIT(7) },
		{ TPM2_ALG_SHA256, BIT(8) | BIT(16) | BIT(23) },
		{ TPM2_ALG_SHA256, 0xff0000 },
		{ TPM2_ALG_SHA1, BIT(7) },
		{ TPM2_ALG_SHA1, BIT(0) | BIT(2) | BIT(4) | BIT(7) },
		{ TPM2_ALG_SHA384, BIT(3) | BIT(9) },
		{ TPM2_ALG_SHA512, BIT(23) },
	};
	struct pcr_state state;
	uint8_t got[OYSTER_POLICY_SIZE], want[OYSTER_POLICY_SIZE];

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]) + 6; i++) {
		uint16_t bank;
		uint32_t mask;
		int r;

		if (i < sizeof(cases) / sizeof(cases[0])) {
			bank = cases[i].bank;
			mask = cases[i].mask;
		} else {
			unsigned pick;

			fill_random(&pick, sizeof(pick));
			bank = banks[pick % (sizeof(banks) / sizeof(banks[0]))].alg;
			do
				fill_random(&mask, sizeof(mask));
			while (!(mask &= 0xffffff) || __builtin_popcount(mask) > 8);
		}
		/* All zeros first (an unused PCR), then random values. */
		if (i == 0)
			memset(&state, 0, sizeof(state));
		else
			random_state(&state);

		r = policy_pcr(NULL, bank, mask, &state, got);
		CHECK(!r, "policy_pcr %s 0x%x: %d", bank_name(bank), mask, r);
		r = ref_createpolicy(bank, mask, &state, want);
		CHECK(!r, "tpm2_createpolicy %s 0x%x failed", bank_name(bank), mask);
		CHECK(!r && !memcmp(got, want, sizeof(got)),
		      "%s 0x%x differs from tpm2_createpolicy", bank_name(bank), mask);
		if (memcmp(got, want, sizeof(got))) {
			print_hex("oyster:           ", got, sizeof(got));
			print_hex("tpm2_createpolicy:", want, sizeof(want));
		}
	}
}

/* Two PolicyPCRs in one session: the second extends the first (old is not zeros). */
static void test_chain(void)
{
	struct pcr_state s1, s2;
	uint8_t got[OYSTER_POLICY_SIZE], want[OYSTER_POLICY_SIZE];
	int r;

	random_state(&s1);
	random_state(&s2);
	start_session();
	r = session_pcr(TPM2_ALG_SHA256, BIT(0) | BIT(7), &s1);
	r = r ? r : session_pcr(TPM2_ALG_SHA1, BIT(4) | BIT(14), &s2);
	r = r ? r : read_digest(file("policy"), want);
	end_session();
	CHECK(!r, "tpm2_policypcr twice failed");
	CHECK(!policy_pcr(NULL, TPM2_ALG_SHA256, BIT(0) | BIT(7), &s1, got) &&
		      !policy_pcr(got, TPM2_ALG_SHA1, BIT(4) | BIT(14), &s2, got) &&
		      !memcmp(got, want, sizeof(got)),
	      "chained PolicyPCR differs from the TPM's");
}

/*
 * What the unseal session does: PolicyPCR over one approved state, then
 * PolicyOR over all branches. The TPM restarts PolicyOR from zeros (after
 * checking, outside a trial, that the current digest is in the list), so
 * the result is the object's policy whichever branch matched.
 */
static void test_states(void)
{
	struct pcr_state states[OYSTER_MAX_STATES];
	uint8_t branches[OYSTER_MAX_STATES][OYSTER_POLICY_SIZE], out[OYSTER_POLICY_SIZE];
	uint8_t want[OYSTER_POLICY_SIZE];
	const uint32_t mask = BIT(0) | BIT(2) | BIT(4) | BIT(7);

	for (unsigned i = 0; i < OYSTER_MAX_STATES; i++)
		random_state(&states[i]);

	for (unsigned n = 1; n <= OYSTER_MAX_STATES; n++) {
		unsigned k = n - 1;
		int r;

		CHECK(!policy_for_states(TPM2_ALG_SHA256, mask, states, n, branches, out),
		      "policy_for_states(%u)", n);
		for (unsigned i = 0; i < n; i++) {
			r = ref_createpolicy(TPM2_ALG_SHA256, mask, &states[i], want);
			CHECK(!r && !memcmp(branches[i], want, sizeof(want)),
			      "branch %u of %u differs from tpm2_createpolicy", i, n);
		}
		start_session();
		r = session_pcr(TPM2_ALG_SHA256, mask, &states[k]);
		if (n > 1)
			r = r ? r : session_or((const uint8_t(*)[32])branches, n);
		r = r ? r : read_digest(file("policy"), want);
		end_session();
		CHECK(!r && !memcmp(out, want, sizeof(want)),
		      "%u states: policy differs from the TPM's PolicyPCR+PolicyOR", n);
		if (n > 1)
			CHECK(!policy_or(NULL, (const uint8_t(*)[32])branches, n, want) &&
				      !memcmp(out, want, sizeof(want)),
			      "%u states: PolicyOR from zeros", n);
	}
}

int main(void)
{
	const char *createpolicy = getenv("TPM2_CREATEPOLICY");
	const char *needed[] = { "tpm2_startauthsession", "tpm2_policypcr", "tpm2_policyor",
				 "tpm2_flushcontext" };
	char swtpm[PATH_MAX];

	test_offline();
	if (test_failed)
		return test_done();

	if (!createpolicy || access(createpolicy, X_OK)) {
		fprintf(stderr, "SKIP: tpm2_createpolicy not found (set TPM2_CREATEPOLICY); "
				"policy digests NOT compared with a TPM\n");
		return 77;
	}
	snprintf(swtpm, sizeof(swtpm), "%s", createpolicy);
	snprintf(tools, sizeof(tools), "%s", dirname(swtpm));
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (access(tool(needed[i]), X_OK)) {
			fprintf(stderr, "SKIP: %s not found next to %s\n", needed[i], createpolicy);
			return 77;
		}
	}
	if (getenv("SWTPM"))
		snprintf(swtpm, sizeof(swtpm), "%s", getenv("SWTPM"));
	else if (find_in_path("swtpm", swtpm, sizeof(swtpm)) < 0)
		swtpm[0] = '\0';
	if (!swtpm[0] || access(swtpm, X_OK)) {
		fprintf(stderr, "SKIP: swtpm not found; policy digests NOT compared with a TPM\n");
		return 77;
	}
	if (!mkdtemp(work))
		setup_failed("mkdtemp");
	work_made = true;
	start_swtpm(swtpm);

	test_policy_pcr();
	test_chain();
	test_states();

	cleanup();
	return test_done();
}
