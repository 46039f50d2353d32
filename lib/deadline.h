/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef OYSTER_DEADLINE_H
#define OYSTER_DEADLINE_H

#include <stdint.h>
#include <tss2/tss2_tcti.h>

/* Wraps inner (still owned by the caller) so that no response wait exceeds timeout_ms. */
TSS2_TCTI_CONTEXT *deadline_wrap(TSS2_TCTI_CONTEXT *inner, int32_t timeout_ms);
void deadline_free(TSS2_TCTI_CONTEXT *ctx);

#endif
