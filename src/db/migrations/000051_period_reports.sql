-- Scheduled period reports (CONTRACT §9): the reconciliation report of each closed period, stored when its
-- schedule comes due, signed off by an operator, and the post-close adjustments found after sign-off.
create table period_reports (
  id              bigserial primary key,
  -- daily, weekly or monthly
  schedule        text not null,
  period_from     timestamptz not null,
  period_to       timestamptz not null,
  label           text not null,
  tz              text not null,
  generated_at    timestamptz not null,
  -- The report's rows (reports/reconciliation.ts ReportRow[]) as generated, as of the period's end.
  rows            jsonb not null,
  signed_off_at   timestamptz,
  signed_off_by   text,
  signoff_note    text,
  -- The rows the operator signed (recomputed at sign-off); later differences are adjustments.
  signed_rows     jsonb,
  unique (schedule, period_from)
);
create index period_reports_listing on period_reports (period_to desc, id desc);
create index period_reports_signed on period_reports (id) where signed_off_at is not null;

create table period_report_adjustments (
  id           bigserial primary key,
  report_id    bigint not null references period_reports (id),
  detected_at  timestamptz not null,
  -- [{row, field, before: {count, amount_minor}, after: {count, amount_minor}}]
  changes      jsonb not null,
  -- The rows now: the next adjustment is measured from these.
  rows         jsonb not null
);
create index period_report_adjustments_report on period_report_adjustments (report_id, id);
