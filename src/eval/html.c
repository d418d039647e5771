/*
 * html.c - the evaluation report as one self-contained HTML page: inline
 * CSS, charts drawn as inline SVG (PR, ROC, reliability), no scripts and no
 * external resources, so it opens offline and can be attached to a review.
 */
#include <math.h>
#include <string.h>

#include "eval/eval_int.h"

static const char *COLORS[MHGI_EVAL_MAX_DIM] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                                "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"};

static void esc(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void num(FILE *f, double v) {
    if (isnan(v))
        fputs("&ndash;", f);
    else
        fprintf(f, "%.3f", v);
}

static void ci(FILE *f, const mhg_eval_ci *c) {
    num(f, c->value);
    if (!isnan(c->value) && !isnan(c->lo)) fprintf(f, " <small>[%.3f, %.3f]</small>", c->lo, c->hi);
}

/* Chart frame: 300x300 plot area at (50,20). Data (x,y) in [0,1]. */
#define PX(x) (50.0 + 300.0 * (x))
#define PY(y) (320.0 - 300.0 * (y))

static void frame(FILE *f, const char *title, const char *xl, const char *yl) {
    fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 380 370\" width=\"380\" height=\"370\" "
               "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\"><title>");
    esc(f, title);
    fputs("</title>", f);
    fputs("<rect x=\"50\" y=\"20\" width=\"300\" height=\"300\" fill=\"#fff\" stroke=\"#999\"/>", f);
    for (int i = 1; i < 5; i++) {
        double v = i / 5.0;
        fprintf(f, "<line x1=\"%.1f\" y1=\"20\" x2=\"%.1f\" y2=\"320\" stroke=\"#eee\"/>", PX(v), PX(v));
        fprintf(f, "<line x1=\"50\" y1=\"%.1f\" x2=\"350\" y2=\"%.1f\" stroke=\"#eee\"/>", PY(v), PY(v));
    }
    for (int i = 0; i <= 5; i++) {
        double v = i / 5.0;
        fprintf(f, "<text x=\"%.1f\" y=\"336\" font-size=\"10\" text-anchor=\"middle\">%.1f</text>", PX(v), v);
        fprintf(f, "<text x=\"44\" y=\"%.1f\" font-size=\"10\" text-anchor=\"end\">%.1f</text>", PY(v) + 3, v);
    }
    fprintf(f, "<text x=\"200\" y=\"356\" font-size=\"12\" text-anchor=\"middle\">");
    esc(f, xl);
    fprintf(f, "</text><text x=\"14\" y=\"170\" font-size=\"12\" text-anchor=\"middle\" "
               "transform=\"rotate(-90 14 170)\">");
    esc(f, yl);
    fprintf(f, "</text><text x=\"200\" y=\"13\" font-size=\"12\" font-weight=\"bold\" "
               "text-anchor=\"middle\">");
    esc(f, title);
    fputs("</text>", f);
}

static void polyline(FILE *f, const mhgi_curve *c, const char *color) {
    if (c->n == 0) return;
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (size_t i = 0; i < c->n; i++) fprintf(f, "%.1f,%.1f ", PX(c->x[i]), PY(c->y[i]));
    fputs("\"/>", f);
}

static void legend(FILE *f, const mhg_eval_set *s, double y0) {
    for (size_t a = 0; a < s->n_systems; a++) {
        double y = y0 + 14.0 * (double)a;
        fprintf(f, "<rect x=\"60\" y=\"%.1f\" width=\"10\" height=\"10\" fill=\"%s\"/>", y - 9, COLORS[a]);
        fprintf(f, "<text x=\"75\" y=\"%.1f\" font-size=\"11\">", y);
        esc(f, s->systems[a]);
        fputs("</text>", f);
    }
}

static void charts(FILE *f, const mhg_eval_set *s, size_t t) {
    fputs("<div class=\"charts\">", f);
    frame(f, "Precision-recall", "recall", "precision");
    for (size_t a = 0; a < s->n_systems; a++) polyline(f, &s->cells[a][t].pr, COLORS[a]);
    legend(f, s, 300);
    fputs("</svg>", f);
    frame(f, "ROC", "false-positive rate", "true-positive rate");
    fputs("<line x1=\"50\" y1=\"320\" x2=\"350\" y2=\"20\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>", f);
    for (size_t a = 0; a < s->n_systems; a++) polyline(f, &s->cells[a][t].roc, COLORS[a]);
    legend(f, s, 300);
    fputs("</svg>", f);
    frame(f, "Calibration (reliability)", "mean predicted score", "observed fraction positive");
    fputs("<line x1=\"50\" y1=\"320\" x2=\"350\" y2=\"20\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>", f);
    for (size_t a = 0; a < s->n_systems; a++) {
        const mhg_eval_summary *o = &s->cells[a][t].overall;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", COLORS[a]);
        for (size_t b = 0; b < MHG_EVAL_BINS; b++)
            if (o->reliability[b].n)
                fprintf(f, "%.1f,%.1f ", PX(o->reliability[b].mean_score), PY(o->reliability[b].frac_pos));
        fputs("\"/>", f);
        for (size_t b = 0; b < MHG_EVAL_BINS; b++)
            if (o->reliability[b].n) {
                double r = 2.0 + 4.0 * sqrt((double)o->reliability[b].n / (double)(o->n ? o->n : 1));
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\"><title>n=%zu</title></circle>",
                        PX(o->reliability[b].mean_score), PY(o->reliability[b].frac_pos), r, COLORS[a],
                        o->reliability[b].n);
            }
    }
    legend(f, s, 40);
    fputs("</svg></div>", f);
}

static void metric_head(FILE *f, const char *first) {
    fprintf(f, "<tr><th>%s</th><th>n</th><th>pos</th><th>precision</th><th>recall</th><th>FPR</th>"
               "<th>F1</th><th>AUPRC</th><th>ROC-AUC</th><th>ECE</th><th>unlabelled: flagged</th></tr>",
            first);
}

static void metric_row(FILE *f, const char *name, const char *color, const mhg_eval_summary *m) {
    fputs("<tr><td>", f);
    if (color) fprintf(f, "<span class=\"sw\" style=\"background:%s\"></span>", color);
    esc(f, name);
    fprintf(f, "</td><td>%zu</td><td>%zu</td><td>", m->n, m->n_pos);
    ci(f, &m->precision);
    fputs("</td><td>", f);
    ci(f, &m->recall);
    fputs("</td><td>", f);
    ci(f, &m->fpr);
    fputs("</td><td>", f);
    num(f, m->f1.value);
    fputs("</td><td>", f);
    ci(f, &m->auprc);
    fputs("</td><td>", f);
    ci(f, &m->roc_auc);
    fputs("</td><td>", f);
    num(f, m->ece);
    fputs("</td><td>", f);
    if (m->n_unlabelled) {
        fprintf(f, "%zu / %zu = ", m->n_unlabelled_flagged, m->n_unlabelled);
        ci(f, &m->flag_rate_unlabelled);
    } else {
        fputs("&ndash;", f);
    }
    fputs("</td></tr>\n", f);
}

mhg_status mhg_eval_report_html(const mhg_eval_set *s, FILE *f) {
    if (!s || !f || !s->computed) return MHG_ERR_INVALID;
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<title>mhguard evaluation</title><style>"
          "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}"
          "h1{font-size:22px}h2{font-size:18px;border-bottom:2px solid #ccc;padding-top:12px}"
          "h3{font-size:15px}table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
          "th,td{border:1px solid #ccc;padding:3px 7px;text-align:right}"
          "th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}"
          "small{color:#666}.charts{display:flex;flex-wrap:wrap;gap:12px}"
          ".sw{display:inline-block;width:10px;height:10px;margin-right:5px}"
          ".cm td{min-width:60px;text-align:center}.note{color:#555;font-size:13px}"
          "</style></head><body>\n<h1>mhguard evaluation report</h1>\n<table>", f);
    for (size_t i = 0; i < s->n_info; i++)
        if (s->info[i].system < 0) {
            fputs("<tr><th>", f);
            esc(f, s->info[i].key);
            fputs("</th><td>", f);
            esc(f, s->info[i].value);
            fputs("</td></tr>", f);
        }
    fputs("</table>\n<h3>Systems</h3><table><tr><th>system</th><th>details</th></tr>", f);
    for (size_t a = 0; a < s->n_systems; a++) {
        fprintf(f, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>", COLORS[a]);
        esc(f, s->systems[a]);
        fputs("</td><td>", f);
        for (size_t i = 0; i < s->n_info; i++)
            if (s->info[i].system == (int)a) {
                esc(f, s->info[i].key);
                fputs(": ", f);
                esc(f, s->info[i].value);
                fputs("<br>", f);
            }
        fputs("</td></tr>", f);
    }
    fputs("</table><p class=\"note\">Operating point: each system's own decision (engine level "
          "&ge; moderate, or score &ge; the given threshold). Intervals are 95 %: Wilson for "
          "proportions, percentile bootstrap (fixed seed) for AUPRC and ROC-AUC. Unlabelled rows "
          "are in no metric; the last column shows how many of them each system flags.</p>\n",
          f);
    for (size_t t = 0; t < s->n_tasks; t++) {
        fputs("<h2>Task: ", f);
        esc(f, s->tasks[t]);
        fputs("</h2>\n", f);
        charts(f, s, t);
        fputs("<h3>Overall</h3><table>", f);
        metric_head(f, "system");
        for (size_t a = 0; a < s->n_systems; a++)
            metric_row(f, s->systems[a], COLORS[a], &s->cells[a][t].overall);
        fputs("</table>\n<h3>Confusion matrix at the operating point</h3><div class=\"charts\">", f);
        for (size_t a = 0; a < s->n_systems; a++) {
            const mhg_eval_summary *o = &s->cells[a][t].overall;
            fputs("<table class=\"cm\"><tr><th>", f);
            esc(f, s->systems[a]);
            fprintf(f, "</th><th>flagged</th><th>not flagged</th></tr>"
                       "<tr><th>positive</th><td>%zu</td><td>%zu</td></tr>"
                       "<tr><th>negative</th><td>%zu</td><td>%zu</td></tr></table>",
                    o->tp, o->fn, o->fp, o->tn);
        }
        fputs("</div>\n", f);
        for (size_t fi = 0; fi < s->n_fields; fi++) {
            fputs("<h3>By ", f);
            esc(f, s->fields[fi]);
            fputs("</h3><table>", f);
            metric_head(f, s->fields[fi]);
            for (size_t v = 0; v < s->n_values[fi]; v++)
                for (size_t a = 0; a < s->n_systems; a++) {
                    char name[160];
                    if (s->n_systems > 1)
                        snprintf(name, sizeof name, "%s (%s)", s->values[fi][v], s->systems[a]);
                    else
                        snprintf(name, sizeof name, "%s", s->values[fi][v]);
                    metric_row(f, name, s->n_systems > 1 ? COLORS[a] : NULL,
                               &s->cells[a][t].by_group[fi][v]);
                }
            fputs("</table>\n", f);
        }
        fputs("<h3>Reliability table</h3><table><tr><th>bin</th>", f);
        for (size_t a = 0; a < s->n_systems; a++) {
            fputs("<th>", f);
            esc(f, s->systems[a]);
            fputs(": n / mean score / fraction positive</th>", f);
        }
        fputs("</tr>", f);
        for (size_t b = 0; b < MHG_EVAL_BINS; b++) {
            const mhg_reliability_bin *r0 = &s->cells[0][t].overall.reliability[b];
            fprintf(f, "<tr><td>[%.1f, %.1f%s</td>", r0->lo, r0->hi, b + 1 == MHG_EVAL_BINS ? "]" : ")");
            for (size_t a = 0; a < s->n_systems; a++) {
                const mhg_reliability_bin *r = &s->cells[a][t].overall.reliability[b];
                fprintf(f, "<td>%zu / ", r->n);
                num(f, r->mean_score);
                fputs(" / ", f);
                num(f, r->frac_pos);
                fputs("</td>", f);
            }
            fputs("</tr>", f);
        }
        fputs("</table>\n<h3>Threshold sweep (score &ge; t)</h3><table><tr><th>t</th>", f);
        for (size_t a = 0; a < s->n_systems; a++) {
            fputs("<th>", f);
            esc(f, s->systems[a]);
            fputs(": precision / recall / FPR / F1</th>", f);
        }
        fputs("</tr>", f);
        for (size_t k = 0; k < MHG_EVAL_SWEEP; k++) {
            fprintf(f, "<tr><td>%.2f</td>", s->cells[0][t].overall.sweep[k].threshold);
            for (size_t a = 0; a < s->n_systems; a++) {
                const mhg_eval_sweep_row *r = &s->cells[a][t].overall.sweep[k];
                fputs("<td>", f);
                num(f, r->precision);
                fputs(" / ", f);
                num(f, r->recall);
                fputs(" / ", f);
                num(f, r->fpr);
                fputs(" / ", f);
                num(f, r->f1);
                fputs("</td>", f);
            }
            fputs("</tr>", f);
        }
        fputs("</table>\n", f);
    }
    fputs("</body></html>\n", f);
    return ferror(f) ? MHG_ERR_IO : MHG_OK;
}
