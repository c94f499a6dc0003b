// The device groups an escalate rule's steps push to (GET/PUT/DELETE /v1/device-groups,
// docs/rules.md#escalation), under the Rules view: each group with the devices it names, and a small
// editor that chooses the team's devices (GET /v1/devices) by name. Saving needs an admin key, as for
// rules: a 403 says so in place (rule-form.js).

import { h, replace, toast } from "./dom.js";
import { changeError } from "./rule-form.js";

function deviceLabel(device) {
  return device.name || device.id;
}

/** The editor for `group` (null: a new one); `devices` are the team's devices to choose from. */
function groupForm(api, devices, group, onChanged) {
  const error = h("p", { class: "form-error group-form-error", role: "alert", hidden: true });
  const chosen = new Set(group ? group.devices.map((d) => d.id) : []);
  const name = h("input", { name: "group_name", autocomplete: "off", spellcheck: "false", maxlength: 64,
    placeholder: "oncall-2", readonly: Boolean(group), value: group ? group.name : "" });
  const boxes = devices.map((d) => h("label", { class: "day" },
    h("input", { type: "checkbox", name: "group_device", value: d.id, checked: chosen.has(d.id) }), deviceLabel(d)));
  const fail = (message) => {
    replace(error, message);
    error.hidden = false;
  };
  const form = h("form", { class: "prefs-form group-form", novalidate: true, onsubmit: async (e) => {
    e.preventDefault();
    error.hidden = true;
    const members = boxes.map((b) => b.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    const groupName = name.value.trim();
    if (!groupName) return fail("Give the group a name.");
    if (!members.length) return fail("Choose at least one device (Remove deletes a group).");
    try {
      await api.put(`/v1/device-groups/${encodeURIComponent(groupName)}`, { members });
      toast(`Group ${groupName} saved.`);
      onChanged();
    } catch (err) {
      fail(changeError(err));
    }
  } },
  h("label", { class: "field" }, h("span", { text: "Group name" }), name),
  h("fieldset", {}, h("legend", { text: "Devices" }),
    devices.length ? h("div", { class: "days" }, boxes) : h("p", { class: "muted", text: "No devices registered yet (Devices)." })),
  error,
  h("div", { class: "rule-form-buttons" },
    h("button", { type: "submit", class: "primary", text: group ? "Save group" : "Add group" }),
    group ? h("button", { type: "button", class: "group-remove", text: "Remove group", onclick: async () => {
      try {
        await api.delete(`/v1/device-groups/${encodeURIComponent(group.name)}`);
        toast(`Group ${group.name} removed.`);
        onChanged();
      } catch (err) {
        fail(changeError(err));
      }
    } }) : null));
  return form;
}

/** The Device groups section: `groups` as listed; `onChanged` reloads the view after a change. */
export async function groupsSection(api, groups, onChanged) {
  let devices = [];
  try {
    devices = (await api.get("/v1/devices")).devices || [];
  } catch (err) {
    toast(`Could not load the devices: ${err.message}`, "error");
  }
  return h("section", { class: "device-groups", id: "device-groups" },
    h("h3", { text: "Device groups" }),
    h("p", { class: "muted small", text: "Escalate rules push to these, step by step." }),
    groups.length
      ? h("ul", { class: "rules", id: "group-list" }, groups.map((g) => h("li", { class: "rule group", dataset: { name: g.name } },
        h("details", {},
          h("summary", {},
            h("strong", { class: "group-name", text: g.name }), " ",
            h("span", { class: "muted small group-devices",
              text: g.devices.length ? g.devices.map(deviceLabel).join(", ") : "no registered device" })),
          groupForm(api, devices, g, onChanged)))))
      : null,
    h("details", { class: "rule new-group", id: "new-group" },
      h("summary", { text: "New device group" }),
      groupForm(api, devices, null, onChanged)));
}
