// SPDX-License-Identifier: Apache-2.0
/*
 * Reader for the syscall → alert latency benchmark (test/bench/alert-latency.sh): reads the
 * agent's `--output json` lines from stdin as they arrive, and for each alert of RULE takes
 * (arrival on CLOCK_REALTIME) − (the alert's "time", the kernel timestamp of the syscall's exit
 * converted to wall-clock time by the agent, nanoseconds).
 *
 *   alertlat RULE
 *
 * The alerts are grouped by the last word of their proc.cmdline (alertgen's TAG argument). At EOF
 * prints one line per group: "TAG n=N p50_ms p90_ms p99_ms max_ms".
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXG 8
#define MAXN 200000

struct group {
	char tag[32];
	long n;
	double *ms;
};

static struct group groups[MAXG];
static int ngroups;

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct group *group_of(const char *line)
{
	const char *c = strstr(line, "\"proc.cmdline\":\"");
	const char *end, *sp;
	char tag[32] = "-";
	size_t len;

	if (c) {
		c += 16;
		end = strchr(c, '"');
		if (end) {
			sp = end;
			while (sp > c && sp[-1] != ' ')
				sp--;
			len = (size_t)(end - sp);
			if (len > 0 && len < sizeof(tag)) {
				memcpy(tag, sp, len);
				tag[len] = 0;
			}
		}
	}
	for (int i = 0; i < ngroups; i++)
		if (strcmp(groups[i].tag, tag) == 0)
			return &groups[i];
	if (ngroups == MAXG)
		return NULL;
	strcpy(groups[ngroups].tag, tag);
	groups[ngroups].ms = calloc(MAXN, sizeof(double));
	if (!groups[ngroups].ms)
		return NULL;
	return &groups[ngroups++];
}

/* "2026-12-05T05:54:28.947738498Z" → ns since the epoch; 0 when malformed */
static long long parse_time(const char *s)
{
	struct tm tm = { 0 };
	char frac[16] = { 0 };
	long long ns;
	size_t i;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%15[0-9]Z", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, frac) != 7)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	for (i = strlen(frac); i < 9; i++)
		frac[i] = '0';
	frac[9] = 0;
	ns = (long long)timegm(&tm) * 1000000000LL + atoll(frac);
	return ns;
}

int main(int argc, char **argv)
{
	char needle[256];
	char *line = NULL;
	size_t cap = 0;

	if (argc != 2 || strlen(argv[1]) > 200) {
		fprintf(stderr, "usage: alertlat RULE\n");
		return 2;
	}
	snprintf(needle, sizeof(needle), "\"rule\":\"%s\"", argv[1]);
	while (getline(&line, &cap, stdin) > 0) {
		struct timespec now;
		const char *t;
		struct group *g;
		long long at, ev;

		clock_gettime(CLOCK_REALTIME, &now);
		if (!strstr(line, needle) || !(t = strstr(line, "\"time\":\"")))
			continue;
		ev = parse_time(t + 8);
		g = group_of(line);
		if (!ev || !g || g->n == MAXN)
			continue;
		at = (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
		g->ms[g->n++] = (double)(at - ev) / 1e6;
	}
	for (int i = 0; i < ngroups; i++) {
		struct group *g = &groups[i];

		if (g->n == 0)
			continue;
		qsort(g->ms, (size_t)g->n, sizeof(double), cmp);
#define PCT(p) g->ms[(long)((double)(g->n - 1) * (p) + 0.5)]
		printf("%s n=%ld p50=%.2f p90=%.2f p99=%.2f max=%.2f ms\n", g->tag, g->n, PCT(0.5), PCT(0.9), PCT(0.99),
		       g->ms[g->n - 1]);
	}
	free(line);
	return 0;
}
