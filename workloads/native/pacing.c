/* Schedules: workloads/pacing.py's, to the nanosecond.
 *
 * Open loop: n = max(1, round(rate * duration)) operations; intended times t0 + the sum of
 * the gaps, each gap expovariate(1) * 1e9/rate (Poisson) or 1e9/rate (uniform), drawn from
 * Python's own generator (MT19937 seeded as random.Random(seed) seeds it) in the same
 * floating-point steps, so the same seed gives the same schedule in both engines. Op i
 * goes to thread i % N. Bursts: until the duration is over, each gap drawn at the rate of
 * the phase its operation falls in (fmod of the time since t0 by the cycle: at or past
 * off_ms, the peak), as pacing.py draws it. Closed loop: every thread issues back to back
 * until the deadline.
 *
 * Waiting: clock_nanosleep to the intended time (absolute, CLOCK_MONOTONIC; the threads
 * run with 1 ns timer slack), spinning only the last few microseconds, where a sleep's
 * wake-up would cost more than the wait. An operation is never issued before its time;
 * after it, by the wake-up's lateness, which t_issue - t_intended shows.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sb-load.h"

#define MT_N 624
#define MT_M 397
#define SPIN_NS 5000
#define SLICE_NS 50000000 /* longest single sleep: the stop flag is looked at in between */

static void mt_init(struct mt *m, uint32_t s)
{
	m->s[0] = s;
	for (int i = 1; i < MT_N; i++)
		m->s[i] = 1812433253U * (m->s[i - 1] ^ (m->s[i - 1] >> 30)) + (uint32_t)i;
	m->i = MT_N;
}

/* CPython's random_seed for a non-negative int: init_by_array over its 32-bit words. */
void mt_seed(struct mt *m, uint64_t seed)
{
	uint32_t key[2] = { (uint32_t)seed, (uint32_t)(seed >> 32) };
	int klen = key[1] ? 2 : 1;
	mt_init(m, 19650218U);
	int i = 1, j = 0;
	for (int k = MT_N > klen ? MT_N : klen; k; k--) {
		m->s[i] = (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1664525U)) + key[j] +
			  (uint32_t)j;
		i++;
		j++;
		if (i >= MT_N) {
			m->s[0] = m->s[MT_N - 1];
			i = 1;
		}
		if (j >= klen)
			j = 0;
	}
	for (int k = MT_N - 1; k; k--) {
		m->s[i] = (m->s[i] ^ ((m->s[i - 1] ^ (m->s[i - 1] >> 30)) * 1566083941U)) -
			  (uint32_t)i;
		i++;
		if (i >= MT_N) {
			m->s[0] = m->s[MT_N - 1];
			i = 1;
		}
	}
	m->s[0] = 0x80000000U;
}

static uint32_t mt_next(struct mt *m)
{
	static const uint32_t mag01[2] = { 0, 0x9908b0dfU };
	if (m->i >= MT_N) {
		int k;
		uint32_t y;
		for (k = 0; k < MT_N - MT_M; k++) {
			y = (m->s[k] & 0x80000000U) | (m->s[k + 1] & 0x7fffffffU);
			m->s[k] = m->s[k + MT_M] ^ (y >> 1) ^ mag01[y & 1];
		}
		for (; k < MT_N - 1; k++) {
			y = (m->s[k] & 0x80000000U) | (m->s[k + 1] & 0x7fffffffU);
			m->s[k] = m->s[k + (MT_M - MT_N)] ^ (y >> 1) ^ mag01[y & 1];
		}
		y = (m->s[MT_N - 1] & 0x80000000U) | (m->s[0] & 0x7fffffffU);
		m->s[MT_N - 1] = m->s[MT_M - 1] ^ (y >> 1) ^ mag01[y & 1];
		m->i = 0;
	}
	uint32_t y = m->s[m->i++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680U;
	y ^= (y << 15) & 0xefc60000U;
	y ^= y >> 18;
	return y;
}

double mt_random(struct mt *m)
{
	uint32_t a = mt_next(m) >> 5, b = mt_next(m) >> 6;
	return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

int64_t schedule_ops(double rate, double duration)
{
	double n = nearbyint(rate * duration); /* round half to even, as Python's round */
	return n < 1 ? 1 : (int64_t)n;
}

/* Operations in a schedule: rate * duration, or for bursts the count the pacer gives,
 * plus a margin for a start time whose rounding ends the schedule an operation later. */
int64_t schedule_len(double rate, double duration, const struct arrivals *a, uint64_t seed)
{
	if (!a->burst)
		return schedule_ops(rate, duration);
	struct pacer p;
	int64_t op, j, t, n = 0;
	pacer_open(&p, 0, 1, rate, duration, a, seed, 0);
	while (pacer_next(&p, &op, &j, &t))
		n++;
	return n + n / 100 + 16;
}

int parse_arrivals(const char *text, struct arrivals *a)
{
	*a = (struct arrivals){ 0 };
	if (strlen(text) >= sizeof(a->text))
		return -1;
	strcpy(a->text, text);
	if (!strcmp(text, "poisson") || !strcmp(text, "uniform")) {
		a->poisson = !strcmp(text, "poisson");
		return 0;
	}
	/* burst:on_ms=A,off_ms=B,peak=P, in that order, as pacing.Burst.text writes it */
	if (sscanf(text, "burst:on_ms=%lf,off_ms=%lf,peak=%lf", &a->on_ms, &a->off_ms,
		   &a->peak) != 3 || !(a->on_ms > 0 && a->off_ms > 0 && a->peak > 0))
		return -1;
	a->poisson = a->burst = 1;
	return 0;
}

void pacer_open(struct pacer *p, int t, int nthreads, double rate, double duration,
		const struct arrivals *a, uint64_t seed, int64_t t0)
{
	*p = (struct pacer){ .n = schedule_ops(rate, duration), .period = 1e9 / rate,
			     .poisson = a->poisson, .t = t, .nthreads = nthreads,
			     .t_next = (double)t0 };
	if (a->burst) {
		p->burst = 1;
		p->t0 = (double)t0;
		p->cycle = (a->on_ms + a->off_ms) * 1e6;
		p->off = a->off_ms * 1e6;
		p->peak_period = 1e9 / a->peak;
		p->end = (double)t0 + duration * 1e9;
	}
	mt_seed(&p->mt, seed);
}

void pacer_closed(struct pacer *p, int t, int nthreads, int64_t deadline)
{
	*p = (struct pacer){ .closed = 1, .deadline = deadline, .t = t, .nthreads = nthreads };
}

int pacer_next(struct pacer *p, int64_t *op, int64_t *j, int64_t *t_int)
{
	if (p->closed) {
		int64_t now = now_ns();
		if (now >= p->deadline)
			return 0;
		*op = p->j * p->nthreads + p->t;
		*j = p->j++;
		*t_int = now;
		return 1;
	}
	while (p->burst ? p->t_next < p->end : p->i < p->n) {
		int64_t idx = p->i++;
		int64_t ti = (int64_t)p->t_next;
		double period = p->burst && fmod(p->t_next - p->t0, p->cycle) >= p->off
					? p->peak_period : p->period;
		/* random.expovariate(1.0) is -log(1.0 - random()) / 1.0 */
		p->t_next += p->poisson ? (-log(1.0 - mt_random(&p->mt)) / 1.0) * period
					: period;
		if (idx % p->nthreads == p->t) {
			*op = idx;
			*j = p->j++;
			*t_int = ti;
			return 1;
		}
	}
	return 0;
}

int sleep_until(int64_t t, const atomic_int *stop)
{
	for (;;) {
		if (atomic_load_explicit(stop, memory_order_relaxed))
			return 0;
		int64_t now = now_ns(), left = t - now;
		if (left <= 0)
			return 1;
		if (left <= SPIN_NS) {
			while (now_ns() < t)
				;
			return 1;
		}
		int64_t until = left > SLICE_NS ? now + SLICE_NS : t;
		struct timespec ts = { until / 1000000000, until % 1000000000 };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
}
