/*
 * librdkafka's mock cluster behind stdin/stdout, so TypeScript tests can make a real Kafka
 * protocol implementation fail on cue (errors per API, leaders moved, brokers down, RTTs),
 * which a real broker cannot do. test/helpers/mock-cluster.ts compiles and drives it.
 *
 *   mock-cluster N        starts N brokers, prints "bootstrap HOST:PORT,..." and then reads
 *                         one command per line; each gets exactly one line back: "ok" (with
 *                         a value after it for queries) or "err <reason>". EOF on stdin (or
 *                         "quit") destroys the cluster.
 *
 * Commands (error codes are Kafka's numbers, API keys too):
 *   topic NAME PARTITIONS REPLICATION          create a topic
 *   errors APIKEY CODE [CODE ...]              the next requests of that API, on any broker,
 *                                              get these errors, one each, in order
 *   broker_errors BROKER APIKEY CODE:RTT ...   same, on one broker, each with a delay in ms
 *   error_count BROKER APIKEY                  "ok N": errors pushed on that broker not yet served
 *   clear_errors APIKEY                        drop pushed errors of that API
 *   topic_error NAME CODE                      Metadata reports this error for the topic
 *   leader NAME PARTITION BROKER               move a partition's leader (-1: none)
 *   down BROKER | up BROKER                    take a broker down (closes its connections,
 *                                              refuses new ones) or bring it back
 *   rtt BROKER MS                              delay every response of a broker
 *   apiversion APIKEY MIN MAX                  change what the mock advertises (-1 -1: none)
 *
 * The Debian 2.0.2 mock stops at Produce v7 and Metadata v2, reports controller id 0 (not a
 * broker of its own) and trims partition logs beyond ~100k message sets (see FACTS.md).
 */
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ARGS 260

static int parse_int(const char *s, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0') return 0;
  *out = v;
  return 1;
}

static void reply_err(const char *fmt, const char *what) {
  printf("err ");
  printf(fmt, what);
  printf("\n");
}

static void reply_resp(rd_kafka_resp_err_t err) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) printf("ok\n");
  else printf("err %s\n", rd_kafka_err2str(err));
}

/* Runs one command line (already split); prints exactly one answer line. */
static void run(rd_kafka_mock_cluster_t *mc, int argc, char **argv) {
  long n[MAX_ARGS];
  const char *cmd = argv[0];
  /* Every argument except a topic name is an integer: parse them up front. */
  int first_int = (strcmp(cmd, "topic") == 0 || strcmp(cmd, "topic_error") == 0 || strcmp(cmd, "leader") == 0) ? 2 : 1;
  for (int i = first_int; i < argc; i++) {
    if (strcmp(cmd, "broker_errors") == 0 && i >= 3) continue; /* CODE:RTT, parsed below */
    if (!parse_int(argv[i], &n[i])) {
      reply_err("not an integer: %s", argv[i]);
      return;
    }
  }
  if (strcmp(cmd, "topic") == 0 && argc == 4) {
    reply_resp(rd_kafka_mock_topic_create(mc, argv[1], (int)n[2], (int)n[3]));
  } else if (strcmp(cmd, "errors") == 0 && argc >= 3) {
    rd_kafka_resp_err_t errs[MAX_ARGS];
    for (int i = 2; i < argc; i++) errs[i - 2] = (rd_kafka_resp_err_t)n[i];
    rd_kafka_mock_push_request_errors_array(mc, (int16_t)n[1], (size_t)(argc - 2), errs);
    printf("ok\n");
  } else if (strcmp(cmd, "broker_errors") == 0 && argc >= 4) {
    /* The C API takes (error, rtt) pairs as varargs; push them one call each, in order. */
    for (int i = 3; i < argc; i++) {
      long code, rtt;
      char buf[64];
      char *colon;
      snprintf(buf, sizeof buf, "%s", argv[i]);
      colon = strchr(buf, ':');
      if (colon == NULL) {
        reply_err("expected CODE:RTT, got %s", argv[i]);
        return;
      }
      *colon = '\0';
      if (!parse_int(buf, &code) || !parse_int(colon + 1, &rtt)) {
        reply_err("expected CODE:RTT, got %s", argv[i]);
        return;
      }
      rd_kafka_resp_err_t err = rd_kafka_mock_broker_push_request_error_rtts(
          mc, (int32_t)n[1], (int16_t)n[2], 1, (rd_kafka_resp_err_t)code, (int)rtt);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        reply_resp(err);
        return;
      }
    }
    printf("ok\n");
  } else if (strcmp(cmd, "error_count") == 0 && argc == 3) {
    size_t cnt = 0;
    rd_kafka_resp_err_t err = rd_kafka_mock_broker_error_stack_cnt(mc, (int32_t)n[1], (int16_t)n[2], &cnt);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) reply_resp(err);
    else printf("ok %zu\n", cnt);
  } else if (strcmp(cmd, "clear_errors") == 0 && argc == 2) {
    rd_kafka_mock_clear_request_errors(mc, (int16_t)n[1]);
    printf("ok\n");
  } else if (strcmp(cmd, "topic_error") == 0 && argc == 3) {
    rd_kafka_mock_topic_set_error(mc, argv[1], (rd_kafka_resp_err_t)n[2]);
    printf("ok\n");
  } else if (strcmp(cmd, "leader") == 0 && argc == 4) {
    reply_resp(rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)n[2], (int32_t)n[3]));
  } else if (strcmp(cmd, "down") == 0 && argc == 2) {
    reply_resp(rd_kafka_mock_broker_set_down(mc, (int32_t)n[1]));
  } else if (strcmp(cmd, "up") == 0 && argc == 2) {
    reply_resp(rd_kafka_mock_broker_set_up(mc, (int32_t)n[1]));
  } else if (strcmp(cmd, "rtt") == 0 && argc == 3) {
    reply_resp(rd_kafka_mock_broker_set_rtt(mc, (int32_t)n[1], (int)n[2]));
  } else if (strcmp(cmd, "apiversion") == 0 && argc == 4) {
    reply_resp(rd_kafka_mock_set_apiversion(mc, (int16_t)n[1], (int16_t)n[2], (int16_t)n[3]));
  } else {
    reply_err("unknown command or wrong argument count: %s", cmd);
  }
}

int main(int argc, char **argv) {
  long brokers = 1;
  char errstr[512];
  if (argc > 2 || (argc == 2 && (!parse_int(argv[1], &brokers) || brokers < 1 || brokers > 64))) {
    fprintf(stderr, "usage: %s [BROKERS]\n", argv[0]);
    return 2;
  }
  /* The mock cluster lives inside a librdkafka client handle; a producer handle is the
   * lightest one, and it never sends anything itself. */
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    fprintf(stderr, "conf: %s\n", errstr);
    return 1;
  }
  rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == NULL) {
    fprintf(stderr, "rd_kafka_new: %s\n", errstr);
    return 1;
  }
  rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
  if (mc == NULL) {
    fprintf(stderr, "rd_kafka_mock_cluster_new failed\n");
    rd_kafka_destroy(rk);
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));

  char line[8192];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char *args[MAX_ARGS];
    int n = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok != NULL && n < MAX_ARGS; tok = strtok(NULL, " \t\r\n")) args[n++] = tok;
    if (n == 0) continue;
    if (strcmp(args[0], "quit") == 0) break;
    run(mc, n, args);
  }
  rd_kafka_mock_cluster_destroy(mc);
  rd_kafka_destroy(rk);
  return 0;
}
