// The workload form's building blocks: labelled inputs, editable row lists, a container's and a
// volume's editors. Every control is a native one with a visible label (keyboard operable,
// named for screen readers); rows are fieldsets whose legend numbers them.

import { useId, type ReactNode } from "react";
import { useI18n } from "../i18n";
import type { MessageKey } from "../i18n/en";
import type { ContainerForm, EnvRow, EnvFromRow, MountRow, PortRow, ProbeForm, Protocol } from "./model";
import { emptyProbe } from "./model";

/** What the project holds that a workload can refer to: names, and a ConfigMap's or Secret's keys. */
export interface Sources {
  configMaps: Record<string, string[]>;
  secrets: Record<string, string[]>;
  claims: string[];
}

export function Text({ label, value, onChange, name, required, pattern, type, placeholder, disabled }: {
  label: MessageKey;
  value: string;
  onChange: (v: string) => void;
  name?: string;
  required?: boolean;
  pattern?: string;
  type?: string;
  placeholder?: string;
  disabled?: boolean;
}) {
  const { t } = useI18n();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t(label)}</label>
      <input id={id} name={name} type={type} min={type === "number" ? 0 : undefined} required={required} pattern={pattern} placeholder={placeholder} disabled={disabled} value={value} onChange={(e) => onChange(e.target.value)} />
    </div>
  );
}

export function Lines({ label, value, onChange }: { label: MessageKey; value: string; onChange: (v: string) => void }) {
  const { t } = useI18n();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t(label)}</label>
      <textarea id={id} rows={2} value={value} onChange={(e) => onChange(e.target.value)} />
    </div>
  );
}

export function Choice<V extends string>({ label, value, options, onChange }: { label: MessageKey; value: V; options: [V, string][]; onChange: (v: V) => void }) {
  const { t } = useI18n();
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t(label)}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as V)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A choice among names the project has (the current value stays offered even if missing). */
export function NamePick({ label, value, names, onChange }: { label: MessageKey; value: string; names: string[]; onChange: (v: string) => void }) {
  const { t } = useI18n();
  const all = value && !names.includes(value) ? [value, ...names] : names;
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{t(label)}</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">{t("wl.choose")}</option>
        {all.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
    </div>
  );
}

/** An editable list: one fieldset a row, each with Remove, and Add at the end. */
export function Rows<R>({ title, item, rows, onChange, make, children }: {
  title: string;
  /** What one row is (numbered in its legend). */
  item: string;
  rows: R[];
  onChange: (rows: R[]) => void;
  make: () => R;
  children: (row: R, set: (patch: Partial<R>) => void, i: number) => ReactNode;
}) {
  const { t } = useI18n();
  return (
    <fieldset className="wl-rows">
      <legend>{title}</legend>
      {rows.map((r, i) => (
        <fieldset key={i} className="wl-row">
          <legend>{`${item} ${i + 1}`}</legend>
          {children(r, (patch) => onChange(rows.map((x, j) => (j === i ? { ...x, ...patch } : x))), i)}
          <button type="button" onClick={() => onChange(rows.filter((_, j) => j !== i))}>
            {t("wl.remove", { what: `${item} ${i + 1}` })}
          </button>
        </fieldset>
      ))}
      <button type="button" onClick={() => onChange([...rows, make()])}>
        {t("wl.add", { what: item })}
      </button>
    </fieldset>
  );
}

const protocols: [Protocol, string][] = [
  ["TCP", "TCP"],
  ["UDP", "UDP"],
  ["SCTP", "SCTP"],
];

function Ports({ rows, onChange }: { rows: PortRow[]; onChange: (r: PortRow[]) => void }) {
  const { t } = useI18n();
  return (
    <Rows<PortRow> title={t("wl.ports")} item={t("wl.port")} rows={rows} onChange={onChange} make={() => ({ name: "", containerPort: "", protocol: "TCP" })}>
      {(p, set) => (
        <div className="row3">
          <Text label="wl.portName" value={p.name} onChange={(name) => set({ name })} />
          <Text label="wl.containerPort" value={p.containerPort} onChange={(containerPort) => set({ containerPort })} required />
          <Choice label="wl.protocol" value={p.protocol} options={protocols} onChange={(protocol) => set({ protocol })} />
        </div>
      )}
    </Rows>
  );
}

function Env({ rows, onChange, sources }: { rows: EnvRow[]; onChange: (r: EnvRow[]) => void; sources: Sources }) {
  const { t } = useI18n();
  const options: [EnvRow["source"], string][] = [
    ["value", t("wl.env.value")],
    ["configMap", t("wl.env.configMap")],
    ["secret", t("wl.env.secret")],
  ];
  return (
    <Rows<EnvRow> title={t("wl.env")} item={t("wl.envVar")} rows={rows} onChange={onChange} make={() => ({ name: "", source: "value", value: "", ref: "", key: "" })}>
      {(e, set) => {
        const keys = e.source === "configMap" ? sources.configMaps : sources.secrets;
        return (
          <div className="row3">
            <Text label="wl.envName" value={e.name} onChange={(name) => set({ name })} required />
            {e.source === "other" ? (
              <p className="muted">{t("wl.kept")}</p>
            ) : (
              <>
                <Choice label="wl.envSource" value={e.source} options={options} onChange={(source) => set({ source, ref: "", key: "" })} />
                {e.source === "value" ? (
                  <Text label="wl.envValue" value={e.value} onChange={(value) => set({ value })} />
                ) : (
                  <>
                    <NamePick label={e.source === "configMap" ? "wl.configMap" : "wl.secret"} value={e.ref} names={Object.keys(keys)} onChange={(ref) => set({ ref, key: "" })} />
                    <NamePick label="wl.key" value={e.key} names={keys[e.ref] ?? []} onChange={(key) => set({ key })} />
                  </>
                )}
              </>
            )}
          </div>
        );
      }}
    </Rows>
  );
}

function EnvFrom({ rows, onChange, sources }: { rows: EnvFromRow[]; onChange: (r: EnvFromRow[]) => void; sources: Sources }) {
  const { t } = useI18n();
  const options: [EnvFromRow["source"], string][] = [
    ["configMap", t("wl.env.configMap")],
    ["secret", t("wl.env.secret")],
  ];
  return (
    <Rows<EnvFromRow> title={t("wl.envFrom")} item={t("wl.envFromItem")} rows={rows} onChange={onChange} make={() => ({ source: "configMap", ref: "", prefix: "" })}>
      {(e, set) => (
        <div className="row3">
          <Choice label="wl.envSource" value={e.source} options={options} onChange={(source) => set({ source, ref: "" })} />
          <NamePick label={e.source === "configMap" ? "wl.configMap" : "wl.secret"} value={e.ref} names={Object.keys(e.source === "configMap" ? sources.configMaps : sources.secrets)} onChange={(ref) => set({ ref })} />
          <Text label="wl.prefix" value={e.prefix} onChange={(prefix) => set({ prefix })} />
        </div>
      )}
    </Rows>
  );
}

function Probe({ title, p, onChange }: { title: MessageKey; p: ProbeForm; onChange: (p: ProbeForm) => void }) {
  const { t } = useI18n();
  const set = (patch: Partial<ProbeForm>) => onChange({ ...p, ...patch });
  const kinds: [ProbeForm["kind"], string][] = [
    ["none", t("wl.probe.none")],
    ["http", t("wl.probe.http")],
    ["tcp", t("wl.probe.tcp")],
    ["exec", t("wl.probe.exec")],
  ];
  if (p.kind === "other") kinds.push(["other", t("wl.kept")]);
  return (
    <fieldset className="wl-rows">
      <legend>{t(title)}</legend>
      <div className="row3">
        <Choice label="wl.probe.kind" value={p.kind} options={kinds} onChange={(kind) => set(kind === "none" ? emptyProbe() : { kind })} />
        {p.kind === "http" && <Text label="wl.probe.path" value={p.path} onChange={(path) => set({ path })} />}
        {(p.kind === "http" || p.kind === "tcp") && <Text label="wl.containerPort" value={p.port} onChange={(port) => set({ port })} required />}
        {p.kind === "exec" && <Lines label="wl.command" value={p.command} onChange={(command) => set({ command })} />}
      </div>
      {p.kind !== "none" && p.kind !== "other" && (
        <div className="row3">
          <Text label="wl.probe.delay" type="number" value={p.initialDelaySeconds} onChange={(initialDelaySeconds) => set({ initialDelaySeconds })} />
          <Text label="wl.probe.period" type="number" value={p.periodSeconds} onChange={(periodSeconds) => set({ periodSeconds })} />
        </div>
      )}
    </fieldset>
  );
}

function Mounts({ rows, onChange, volumes }: { rows: MountRow[]; onChange: (r: MountRow[]) => void; volumes: string[] }) {
  const { t } = useI18n();
  return (
    <Rows<MountRow> title={t("wl.mounts")} item={t("wl.mount")} rows={rows} onChange={onChange} make={() => ({ volume: volumes[0] ?? "", mountPath: "", subPath: "", readOnly: false })}>
      {(m, set) => (
        <div className="row3">
          <NamePick label="wl.volume" value={m.volume} names={volumes} onChange={(volume) => set({ volume })} />
          <Text label="wl.mountPath" value={m.mountPath} onChange={(mountPath) => set({ mountPath })} required />
          <Text label="wl.subPath" value={m.subPath} onChange={(subPath) => set({ subPath })} />
          <label className="inline">
            <input type="checkbox" checked={m.readOnly} onChange={(e) => set({ readOnly: e.target.checked })} />
            {t("wl.readOnly")}
          </label>
        </div>
      )}
    </Rows>
  );
}

/** One container: image, command, ports, environment, resources, probes, mounts. */
export function Container({ c, set, sources, volumes }: { c: ContainerForm; set: (patch: Partial<ContainerForm>) => void; sources: Sources; volumes: string[] }) {
  return (
    <>
      <div className="row2">
        <Text label="wl.containerName" value={c.name} onChange={(name) => set({ name })} required pattern="[a-z0-9]([\-a-z0-9]*[a-z0-9])?" />
        <Text label="form.image" name="image" value={c.image} onChange={(image) => set({ image })} required />
        <Lines label="wl.command" value={c.command} onChange={(command) => set({ command })} />
        <Lines label="wl.args" value={c.args} onChange={(args) => set({ args })} />
      </div>
      <Ports rows={c.ports} onChange={(ports) => set({ ports })} />
      <Env rows={c.env} onChange={(env) => set({ env })} sources={sources} />
      <EnvFrom rows={c.envFrom} onChange={(envFrom) => set({ envFrom })} sources={sources} />
      <div className="row2">
        <Text label="form.cpuRequest" value={c.cpuRequest} onChange={(cpuRequest) => set({ cpuRequest })} placeholder="100m" />
        <Text label="form.memoryRequest" value={c.memoryRequest} onChange={(memoryRequest) => set({ memoryRequest })} placeholder="128Mi" />
        <Text label="form.cpuLimit" value={c.cpuLimit} onChange={(cpuLimit) => set({ cpuLimit })} />
        <Text label="form.memoryLimit" value={c.memoryLimit} onChange={(memoryLimit) => set({ memoryLimit })} />
      </div>
      <Probe title="wl.liveness" p={c.liveness} onChange={(liveness) => set({ liveness })} />
      <Probe title="wl.readiness" p={c.readiness} onChange={(readiness) => set({ readiness })} />
      <Mounts rows={c.mounts} onChange={(mounts) => set({ mounts })} volumes={volumes} />
    </>
  );
}
