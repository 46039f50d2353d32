// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * A TCTI that forwards to another and bounds each wait for a response.
 * ESAPI's synchronous calls pass "block forever" and retry forever on
 * TRY_AGAIN, so a TPM that never answers would hang the boot. Here each
 * wait gets a finite timeout and TRY_AGAIN becomes an I/O error, which the
 * caller reports as "no TPM". The device TCTI honours the timeout (poll);
 * tpm2-tss 3.2's swtpm and mssim TCTIs block in read() whatever it says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_tcti.h>

#include "deadline.h"
#include "log.h"

#define DEADLINE_MAGIC 0x6f79737465724454ULL /* "oysterDT" */

struct deadline_tcti {
	TSS2_TCTI_CONTEXT_COMMON_V2 common;
	TSS2_TCTI_CONTEXT *inner;
	int32_t timeout_ms;
};

static struct deadline_tcti *deadline_cast(TSS2_TCTI_CONTEXT *ctx)
{
	struct deadline_tcti *d = (struct deadline_tcti *)ctx;

	return d && d->common.v1.magic == DEADLINE_MAGIC ? d : NULL;
}

static TSS2_RC deadline_transmit(TSS2_TCTI_CONTEXT *ctx, size_t size, const uint8_t *command)
{
	struct deadline_tcti *d = deadline_cast(ctx);

	return d ? Tss2_Tcti_Transmit(d->inner, size, command) : TSS2_TCTI_RC_BAD_CONTEXT;
}

static TSS2_RC deadline_receive(TSS2_TCTI_CONTEXT *ctx, size_t *size, uint8_t *response,
				int32_t timeout)
{
	struct deadline_tcti *d = deadline_cast(ctx);
	TSS2_RC rc;

	if (!d)
		return TSS2_TCTI_RC_BAD_CONTEXT;
	if (timeout == TSS2_TCTI_TIMEOUT_BLOCK || timeout > d->timeout_ms)
		timeout = d->timeout_ms;
	rc = Tss2_Tcti_Receive(d->inner, size, response, timeout);
	if ((rc & ~TSS2_RC_LAYER_MASK) == TSS2_BASE_RC_TRY_AGAIN) {
		log_err("The TPM did not answer within %d seconds.", d->timeout_ms / 1000);
		return TSS2_TCTI_RC_IO_ERROR;
	}
	return rc;
}

static void deadline_finalize(TSS2_TCTI_CONTEXT *ctx)
{
	struct deadline_tcti *d = deadline_cast(ctx);

	if (d)
		d->common.v1.magic = 0;
}

static TSS2_RC deadline_cancel(TSS2_TCTI_CONTEXT *ctx)
{
	struct deadline_tcti *d = deadline_cast(ctx);

	return d ? Tss2_Tcti_Cancel(d->inner) : TSS2_TCTI_RC_BAD_CONTEXT;
}

static TSS2_RC deadline_poll_handles(TSS2_TCTI_CONTEXT *ctx, TSS2_TCTI_POLL_HANDLE *handles,
				     size_t *n)
{
	struct deadline_tcti *d = deadline_cast(ctx);

	return d ? Tss2_Tcti_GetPollHandles(d->inner, handles, n) : TSS2_TCTI_RC_BAD_CONTEXT;
}

static TSS2_RC deadline_set_locality(TSS2_TCTI_CONTEXT *ctx, uint8_t locality)
{
	struct deadline_tcti *d = deadline_cast(ctx);

	return d ? Tss2_Tcti_SetLocality(d->inner, locality) : TSS2_TCTI_RC_BAD_CONTEXT;
}

static TSS2_RC deadline_make_sticky(TSS2_TCTI_CONTEXT *ctx, TPM2_HANDLE *handle, uint8_t sticky)
{
	struct deadline_tcti *d = deadline_cast(ctx);

	return d ? Tss2_Tcti_MakeSticky(d->inner, handle, sticky) : TSS2_TCTI_RC_BAD_CONTEXT;
}

TSS2_TCTI_CONTEXT *deadline_wrap(TSS2_TCTI_CONTEXT *inner, int32_t timeout_ms)
{
	struct deadline_tcti *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->common.v1.magic = DEADLINE_MAGIC;
	d->common.v1.version = 2;
	d->common.v1.transmit = deadline_transmit;
	d->common.v1.receive = deadline_receive;
	d->common.v1.finalize = deadline_finalize;
	d->common.v1.cancel = deadline_cancel;
	d->common.v1.getPollHandles = deadline_poll_handles;
	d->common.v1.setLocality = deadline_set_locality;
	d->common.makeSticky = deadline_make_sticky;
	d->inner = inner;
	d->timeout_ms = timeout_ms;
	return (TSS2_TCTI_CONTEXT *)d;
}

void deadline_free(TSS2_TCTI_CONTEXT *ctx)
{
	free(deadline_cast(ctx));
}
