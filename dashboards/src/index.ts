import { buildDashboard } from "./render.js";
import { dashboardSpecs } from "./specs.js";

/** Directory of the generated dashboard JSON, relative to the repository root. */
export const DASHBOARD_DIR = "dashboards";

/** Each dashboard as the exact file content committed under dashboards/. */
export function renderDashboards(): { uid: string; path: string; content: string }[] {
  return dashboardSpecs.map((spec) => ({
    uid: spec.uid,
    path: `${DASHBOARD_DIR}/${spec.file}`,
    content: `${JSON.stringify(buildDashboard(spec), null, 2)}\n`,
  }));
}
