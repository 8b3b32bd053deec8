import { monitoringConfig } from "./config.js";
import { alert, promql, sel } from "./promql.js";
import type { RuleGroup } from "./types.js";

const lag = monitoringConfig.consumerLag;

export const pipelineAlertGroup: RuleGroup = {
  name: "payrecon-pipeline",
  rules: [
    alert({
      alert: "PayreconConsumerLagGrowing",
      // Large alone is a backlog being worked off after a deploy; large and still growing
      // means payrecon consumes slower than upstream produces.
      expr: promql`
        sum by (topic) (${sel("payrecon_consumer_lag")}) > ${lag.minMessages}
        and
        sum by (topic) (delta(${sel("payrecon_consumer_lag")}[${lag.growthWindow}])) > 0
      `,
      for: "15m",
      severity: "warning",
      summary: "Kafka consumer lag is large and growing.",
      description:
        "payrecon is {{ $value }} messages behind on {{ $labels.topic }} and the lag has grown over the last " +
        `${lag.growthWindow}; statuses and exceptions are that far behind reality.`,
    }),
    alert({
      alert: "PayreconDeadLetters",
      // Every dead letter is a payment fact payrecon did not apply, so one is worth a ticket;
      // the 15m window keeps the alert up long enough to be seen and groups a burst into one.
      expr: `sum by (topic, reason) (increase(${sel("payrecon_dead_letters_total")}[15m])) > 0`,
      severity: "warning",
      summary: "Messages are being written to the dead-letter topic.",
      description:
        '{{ $value | printf "%.0f" }} message(s) from {{ $labels.topic }} went to the dead-letter topic in the last ' +
        "15m with reason {{ $labels.reason }}; the facts they carry are not reconciled until replayed.",
    }),
    alert({
      alert: "PayreconKafkaConsumerRestarting",
      // One crash is recovered by the automatic restart; repeated ones are a crash loop.
      expr: `sum by (instance) (increase(${sel("payrecon_kafka_consumer_crashes_total")}[30m])) >= 2`,
      severity: "warning",
      summary: "The Kafka consumer keeps crashing.",
      description:
        'The Kafka consumer on {{ $labels.instance }} crashed {{ $value | printf "%.0f" }} times in the last 30m.',
    }),
    alert({
      alert: "PayreconWebhooksRefused",
      // A rolled secret set on one side only refuses every delivery: the gateway retries for
      // days, but nothing it reports (failed payouts included) reaches payrecon meanwhile.
      expr: `sum by (gateway, outcome) (increase(${sel("payrecon_webhook_requests_total", 'outcome=~"bad_signature|not_configured"')}[15m])) >= 5`,
      severity: "warning",
      summary: "Gateway webhooks are being refused.",
      description:
        '{{ $value | printf "%.0f" }} {{ $labels.gateway }} webhook deliveries were refused ({{ $labels.outcome }}) ' +
        "in the last 15m; the events they carry are not reconciled until the gateway re-sends them.",
    }),
    alert({
      alert: "PayreconStripePayoutsWaiting",
      // A payout's balance transactions normally arrive within minutes of payout.paid.
      expr: `max(${sel("payrecon_stripe_payouts_waiting")}) > 0`,
      for: "6h",
      severity: "warning",
      summary: "Stripe payouts are waiting for their balance transactions.",
      description:
        "{{ $value }} Stripe payout(s) reported paid for over 6h still lack balance transactions that add up to " +
        "their amount: their bank credits stay unmatched and their payments unsettled.",
    }),
  ],
};
