import { finance } from "./finance.js";
import { gatewayDrilldown } from "./gatewayDrilldown.js";
import type { DashboardSpec } from "./spec.js";
import { sreOverview } from "./sreOverview.js";

/** Every payrecon dashboard. Free of the Grafana SDK so src/ can read the queries. */
export const dashboardSpecs: readonly DashboardSpec[] = [sreOverview, finance, gatewayDrilldown];
