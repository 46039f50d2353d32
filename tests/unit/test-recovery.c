// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * Recovery keys: the generated form (8 groups of 8 modhex letters), and the
 * normalization of what a person typed (any case, dashes or not), which
 * must leave every other passphrase exactly as it was.
 */
#include <errno.h>

#include "recovery.h"
#include "test.h"

static const char canonical[] =
	"fjbtlgvr-kihhcuel-ndbugjbe-vvbkkhtd-hrfvjruk-ecbdgetc-lnerdtgi-jfchbrkk";

/* normalize(IN): the text that recovery_key_normalize() leaves, in a static buffer. */
static const char *normalize(const char *in, bool *changed)
{
	static char out[600];
	struct secret *s = secret_new(512);

	if (!s)
		exit(99);
	s->len = strlen(in);
	memcpy(s->data, in, s->len);
	s->data[s->len] = '\0';
	*changed = recovery_key_normalize(s);
	snprintf(out, sizeof(out), "%.*s", (int)s->len, (const char *)s->data);
	secret_free(s);
	return out;
}

static bool is_canonical(const struct secret *s)
{
	if (s->len != OYSTER_RECOVERY_KEY_LEN || s->data[s->len] != '\0')
		return false;
	for (size_t i = 0; i < s->len; i++) {
		bool dash = i % 9 == 8;

		if (dash ? s->data[i] != '-'
			 : !strchr("cbdefghijklnrtuv", s->data[i]) || !s->data[i])
			return false;
	}
	return true;
}

int main(void)
{
	struct secret *a = NULL, *b = NULL;
	bool changed;

	CHECK(recovery_key_generate(&a) == 0 && recovery_key_generate(&b) == 0, "generate");
	CHECK(a && is_canonical(a), "generated key has the canonical shape: %s",
	      a ? (char *)a->data : "");
	CHECK(a && b && strcmp((char *)a->data, (char *)b->data), "two keys differ");
	CHECK(a && recovery_key_normalize(a) && is_canonical(a),
	      "a generated key normalizes to itself");
	secret_free(a);
	secret_free(b);

	CHECK(!strcmp(normalize(canonical, &changed), canonical) && changed, "canonical");
	CHECK(!strcmp(normalize("FJBTLGVR-KIHHCUEL-NDBUGJBE-VVBKKHTD-HRFVJRUK-ECBDGETC-LNERDTGI-"
				"JFCHBRKK",
				&changed),
		      canonical) &&
		      changed,
	      "upper case");
	CHECK(!strcmp(normalize("fjbtlgvrkihhcuelndbugjbevvbkkhtdhrfvjrukecbdgetclnerdtgijfchbrkk",
				&changed),
		      canonical) &&
		      changed,
	      "no dashes");
	CHECK(!strcmp(normalize("fjbtlgvr kihhcuel ndbugjbe vvbkkhtd hrfvjruk ecbdgetc lnerdtgi "
				"JfchBrkk\n",
				&changed),
		      canonical) &&
		      changed,
	      "blanks, mixed case, a file's newline");

	/* Anything else passes unchanged. */
	CHECK(!strcmp(normalize("correct horse battery staple", &changed),
		      "correct horse battery staple") &&
		      !changed,
	      "a passphrase");
	CHECK(!strcmp(normalize("fjbtlgvr-kihhcuel", &changed), "fjbtlgvr-kihhcuel") && !changed,
	      "too short");
	CHECK(!strcmp(normalize("fjbtlgvr-kihhcuel-ndbugjbe-vvbkkhtd-hrfvjruk-ecbdgetc-lnerdtgi-"
				"jfchbrkkc",
				&changed),
		      "fjbtlgvr-kihhcuel-ndbugjbe-vvbkkhtd-hrfvjruk-ecbdgetc-lnerdtgi-jfchbrkkc") &&
		      !changed,
	      "one letter too many");
	CHECK(!strcmp(normalize("ajbtlgvr-kihhcuel-ndbugjbe-vvbkkhtd-hrfvjruk-ecbdgetc-lnerdtgi-"
				"jfchbrkk",
				&changed),
		      "ajbtlgvr-kihhcuel-ndbugjbe-vvbkkhtd-hrfvjruk-ecbdgetc-lnerdtgi-jfchbrkk") &&
		      !changed,
	      "a letter outside modhex");
	CHECK(!strcmp(normalize("----", &changed), "----") && !changed, "only dashes");
	return test_done();
}
