// What a secret looks like to the page: its environments, its owner's name, its grid row.

export const ENVIRONMENTS = ["development", "staging", "production"];
export const ENV_LABELS = { development: "Development", staging: "Staging", production: "Production" };

export function ownerName(owner) {
  if (!owner) return "";
  return owner.name || owner.email || "";
}

/** The grid's row for a secret's detail (GET, POST or PATCH answer): flags, not masks. */
export function toRow(detail) {
  let environments = detail.environments;
  if (!environments) {
    environments = {};
    ENVIRONMENTS.forEach((env) => {
      environments[env] = !!(detail.values && detail.values[env] && detail.values[env].set);
    });
  }
  return {
    id: detail.id,
    name: detail.name,
    description: detail.description || "",
    owner: detail.owner,
    created_at: detail.created_at,
    updated_at: detail.updated_at,
    environments: environments,
  };
}
