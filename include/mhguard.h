/*
 * mhguard.h - umbrella header. Include this, link -lmhguard (pkg-config mhguard).
 */
#ifndef MHGUARD_H
#define MHGUARD_H

#include "mhguard/types.h"     /* status codes, taxonomy */
#include "mhguard/normalize.h" /* text normalization with offset map */
#include "mhguard/lexicon.h"   /* phrase lexicons compiled to Vectorscan */
#include "mhguard/classify.h"  /* the learned model (hashed n-grams, liblinear) */
#include "mhguard/eval.h"      /* evaluation metrics and reports */
#include "mhguard/risk.h"      /* the screening engine and verdicts */
#include "mhguard/resources.h" /* crisis resources per country */
#include "mhguard/policy.h"    /* ASL-MH policy, decisions, reply screening */
#include "mhguard/privacy.h"   /* pseudonyms, PII redaction, sealing */
#include "mhguard/store.h"     /* persistent gateway state (SQLite/PostgreSQL) */
#include "mhguard/audit.h"     /* hash-chained audit log */
#include "mhguard/server.h"    /* the gateway (mhguard serve) */

#endif
