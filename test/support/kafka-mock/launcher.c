/*
 * Runs librdkafka's in-process mock Kafka cluster as a standalone process so
 * that kafkajs-based integration tests get a real Kafka wire protocol without
 * a broker or Docker. Driven by test/support/kafkaMock.ts over stdin/stdout.
 *
 * Usage: launcher [--brokers N] [--topic name:partitions]...
 *
 * Prints "BOOTSTRAP host:port,..." once ready, then answers each stdin line
 * with exactly one line, "ok" or "error <text>":
 *   topic <name> <partitions>
 *   down <broker_id> | up <broker_id>     (-1: all brokers)
 *   errors <api_key> <err> [<err>...]   (numeric rd_kafka_resp_err_t values)
 *   brokererrors <broker_id> <api_key> <err> [<err>...]   (only requests to that broker)
 *   leader <topic> <partition> <broker_id>
 *   pending <broker_id> <api_key>   (answers "ok <n>": per-broker errors not yet returned)
 *   coordinator <group_id> <broker_id>
 *   quit
 * EOF on stdin means the parent is gone: exit so no orphan keeps the ports.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_LINE 4096
#define MAX_ERRORS 256

static int broker_cnt = 1;

/* Strict integer parsing: a typo in a test must not silently become 0. */
static int parse_long(const char *s, long min, long max, long *out) {
  char *end;
  long v;
  if (!s || !*s)
    return -1;
  errno = 0;
  v = strtol(s, &end, 10);
  if (errno || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static void reply_ok(void) {
  fputs("ok\n", stdout);
  fflush(stdout);
}

static void reply_err(const char *fmt, const char *detail) {
  fputs("error ", stdout);
  fprintf(stdout, fmt, detail ? detail : "");
  fputc('\n', stdout);
  fflush(stdout);
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *name, long partitions, char *errbuf, size_t errlen) {
  /* Replicate like a small real cluster would; the mock only uses it for metadata. */
  int rf = broker_cnt < 3 ? broker_cnt : 3;
  rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, (int)partitions, rf);
  if (err) {
    snprintf(errbuf, errlen, "topic %s: %s", name, rd_kafka_err2str(err));
    return -1;
  }
  return 0;
}

/* Returns 1 when the command loop should stop. */
static int handle(rd_kafka_mock_cluster_t *mc, char *line) {
  char *save = NULL;
  char *cmd = strtok_r(line, " \t", &save);
  char errbuf[512];
  long v;

  if (!cmd) {
    reply_err("empty command%s", NULL);
    return 0;
  }

  if (!strcmp(cmd, "quit")) {
    reply_ok();
    return 1;
  }

  if (!strcmp(cmd, "topic")) {
    char *name = strtok_r(NULL, " \t", &save);
    char *parts = strtok_r(NULL, " \t", &save);
    if (!name || parse_long(parts, 1, 100000, &v) || strtok_r(NULL, " \t", &save)) {
      reply_err("usage: topic <name> <partitions>%s", NULL);
      return 0;
    }
    if (create_topic(mc, name, v, errbuf, sizeof(errbuf)))
      reply_err("%s", errbuf);
    else
      reply_ok();
    return 0;
  }

  if (!strcmp(cmd, "down") || !strcmp(cmd, "up")) {
    char *id = strtok_r(NULL, " \t", &save);
    rd_kafka_resp_err_t err;
    if (parse_long(id, -1, INT32_MAX, &v) || strtok_r(NULL, " \t", &save)) {
      reply_err("usage: %s <broker_id|-1>", cmd);
      return 0;
    }
    /* -1 means all brokers (a whole-cluster outage); other ids must exist, since the mock
     * would silently ignore an unknown one and the test would prove nothing. */
    if (v == 0 || v > broker_cnt) {
      reply_err("unknown broker id %s", id);
      return 0;
    }
    err = !strcmp(cmd, "down") ? rd_kafka_mock_broker_set_down(mc, (int32_t)v) : rd_kafka_mock_broker_set_up(mc, (int32_t)v);
    if (err)
      reply_err("%s", rd_kafka_err2str(err));
    else
      reply_ok();
    return 0;
  }

  if (!strcmp(cmd, "leader")) {
    char *name = strtok_r(NULL, " \t", &save);
    char *part = strtok_r(NULL, " \t", &save);
    char *id = strtok_r(NULL, " \t", &save);
    long partition;
    rd_kafka_resp_err_t err;
    if (!name || parse_long(part, 0, 100000, &partition) || parse_long(id, 1, broker_cnt, &v) ||
        strtok_r(NULL, " \t", &save)) {
      reply_err("usage: leader <topic> <partition> <broker_id>%s", NULL);
      return 0;
    }
    err = rd_kafka_mock_partition_set_leader(mc, name, (int32_t)partition, (int32_t)v);
    if (err)
      reply_err("%s", rd_kafka_err2str(err));
    else
      reply_ok();
    return 0;
  }

  if (!strcmp(cmd, "coordinator")) {
    char *group = strtok_r(NULL, " \t", &save);
    rd_kafka_resp_err_t err;
    if (!group || parse_long(strtok_r(NULL, " \t", &save), 1, broker_cnt, &v) || strtok_r(NULL, " \t", &save)) {
      reply_err("usage: coordinator <group_id> <broker_id>%s", NULL);
      return 0;
    }
    err = rd_kafka_mock_coordinator_set(mc, "group", group, (int32_t)v);
    if (err)
      reply_err("%s", rd_kafka_err2str(err));
    else
      reply_ok();
    return 0;
  }

  if (!strcmp(cmd, "pending")) {
    long api_key;
    size_t cnt = 0;
    rd_kafka_resp_err_t err;
    if (parse_long(strtok_r(NULL, " \t", &save), 1, broker_cnt, &v) ||
        parse_long(strtok_r(NULL, " \t", &save), 0, INT16_MAX, &api_key) || strtok_r(NULL, " \t", &save)) {
      reply_err("usage: pending <broker_id> <api_key>%s", NULL);
      return 0;
    }
    err = rd_kafka_mock_broker_error_stack_cnt(mc, (int32_t)v, (int16_t)api_key, &cnt);
    if (err) {
      reply_err("%s", rd_kafka_err2str(err));
      return 0;
    }
    printf("ok %zu\n", cnt);
    fflush(stdout);
    return 0;
  }

  if (!strcmp(cmd, "errors") || !strcmp(cmd, "brokererrors")) {
    int per_broker = !strcmp(cmd, "brokererrors");
    long broker_id = 0;

    char *key;
    rd_kafka_resp_err_t errs[MAX_ERRORS];
    size_t cnt = 0;
    size_t i;
    char *tok;
    long api_key;
    /* Per-broker errors let a test fail one broker's requests only, e.g. the daemon's produce to
     * the partitions that broker leads, while the test's own producer (another broker) is unaffected. */
    if (per_broker && parse_long(strtok_r(NULL, " \t", &save), 1, broker_cnt, &broker_id)) {
      reply_err("usage: brokererrors <broker_id> <api_key> <err> [<err>...]%s", NULL);
      return 0;
    }
    key = strtok_r(NULL, " \t", &save);
    if (parse_long(key, 0, INT16_MAX, &api_key)) {
      reply_err("usage: errors <api_key> <err> [<err>...]%s", NULL);
      return 0;
    }
    while ((tok = strtok_r(NULL, " \t", &save))) {
      if (cnt == MAX_ERRORS) {
        reply_err("too many errors (max %s)", "256");
        return 0;
      }
      /* Negative values are librdkafka-internal codes, e.g. -195 __TRANSPORT (disconnect). */
      if (parse_long(tok, -200, 1000, &v)) {
        reply_err("bad error code %s", tok);
        return 0;
      }
      errs[cnt++] = (rd_kafka_resp_err_t)v;
    }
    if (!cnt) {
      reply_err("usage: errors <api_key> <err> [<err>...]%s", NULL);
      return 0;
    }
    if (!per_broker) {
      rd_kafka_mock_push_request_errors_array(mc, (int16_t)api_key, cnt, errs);
      reply_ok();
      return 0;
    }
    /* The per-broker call is variadic (err, rtt_ms pairs): push one entry at a time, in order. */
    for (i = 0; i < cnt; i++) {
      rd_kafka_resp_err_t err =
          rd_kafka_mock_broker_push_request_error_rtts(mc, (int32_t)broker_id, (int16_t)api_key, 1, errs[i], 0);
      if (err) {
        reply_err("%s", rd_kafka_err2str(err));
        return 0;
      }
    }
    reply_ok();
    return 0;
  }

  reply_err("unknown command %s", cmd);
  return 0;
}

int main(int argc, char **argv) {
  char errstr[512];
  char line[MAX_LINE];
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_mock_cluster_t *mc;
  long v;
  int i;

  /* A dead reader must end us, not leave a process writing into nowhere. */
  signal(SIGPIPE, SIG_DFL);

  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
      if (parse_long(argv[++i], 1, 64, &v)) {
        fprintf(stderr, "launcher: bad --brokers %s\n", argv[i]);
        return 2;
      }
      broker_cnt = (int)v;
    } else if (!strcmp(argv[i], "--topic") && i + 1 < argc) {
      i++; /* validated after the cluster exists */
    } else {
      fprintf(stderr, "launcher: usage: %s [--brokers N] [--topic name:partitions]...\n", argv[0]);
      return 2;
    }
  }

  /* The mock cluster needs a host rd_kafka_t for its internal bookkeeping
   * (as librdkafka's own tests do); the producer itself is never used. */
  conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "launcher: %s\n", errstr);
    return 1;
  }
  rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (!rk) {
    fprintf(stderr, "launcher: rd_kafka_new: %s\n", errstr);
    return 1;
  }

  mc = rd_kafka_mock_cluster_new(rk, broker_cnt);
  if (!mc) {
    fprintf(stderr, "launcher: rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }

  for (i = 1; i < argc; i++) {
    char *spec, *colon;
    if (strcmp(argv[i], "--topic")) {
      i++; /* skip --brokers value */
      continue;
    }
    spec = argv[++i];
    colon = strrchr(spec, ':');
    if (!colon || colon == spec || parse_long(colon + 1, 1, 100000, &v)) {
      fprintf(stderr, "launcher: bad --topic %s (want name:partitions)\n", spec);
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return 2;
    }
    *colon = '\0';
    if (create_topic(mc, spec, v, errstr, sizeof(errstr))) {
      fprintf(stderr, "launcher: %s\n", errstr);
      rd_kafka_mock_cluster_destroy(mc);
      rd_kafka_destroy(rk);
      return 1;
    }
  }

  printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
  fflush(stdout);

  while (fgets(line, sizeof(line), stdin)) {
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
      line[--len] = '\0';
    if (handle(mc, line))
      break;
  }

  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
