import { describe, expect, it } from "vitest";
import { Channel, ExecSession, execPath, execUrl, exitOf, frame, parseFrame, resizeFrame, type ExecSocket } from "./exec";
import { setHostCluster } from "./paths";

class FakeSocket implements ExecSocket {
  binaryType = "blob";
  protocol = "v5.channel.k8s.io";
  readyState = 0;
  sent: Uint8Array[] = [];
  closed: number | undefined;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  send(data: Uint8Array) {
    this.sent.push(data);
  }
  close(code?: number) {
    this.closed = code;
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(channel: number, text: string) {
    this.onmessage?.({ data: frame(channel, text).buffer });
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

function session() {
  const socket = new FakeSocket();
  const log: string[] = [];
  const s = new ExecSession(socket, {
    onOpen: () => log.push("open"),
    onOutput: (b) => log.push(`out:${text(b)}`),
    onExit: (code, message) => log.push(`exit:${code}:${message}`),
    onClosed: (opened) => log.push(`closed:${opened}`),
  });
  return { socket, log, s };
}

describe("exec protocol", () => {
  it("addresses a container's shell through the platform", () => {
    setHostCluster("host");
    const p = execPath("m1", "a-m1", "web-0", "nginx", ["sh"]);
    expect(p).toBe("/clusters/m1/api/v1/namespaces/a-m1/pods/web-0/exec?container=nginx&command=sh&stdin=true&stdout=true&stderr=true&tty=true");
    expect(execPath("host", "default", "p", "c", ["/bin/sh", "-c", "echo hi"])).toContain("/api/v1/namespaces/default/pods/p/exec?container=c&command=%2Fbin%2Fsh&command=-c&command=echo+hi");
    expect(execUrl("/x", { protocol: "https:", host: "h:1" })).toBe("wss://h:1/x");
    expect(execUrl("/x", { protocol: "http:", host: "h" })).toBe("ws://h/x");
  });

  it("frames stdin and resize on their channels", () => {
    expect([...frame(Channel.Stdin, "ls\r")]).toEqual([0, 108, 115, 13]);
    const r = resizeFrame(120, 40);
    expect(r[0]).toBe(4);
    expect(JSON.parse(text(r.subarray(1)))).toEqual({ Width: 120, Height: 40 });
    expect(parseFrame(new Uint8Array([2, 104, 105]))).toEqual({ channel: 2, payload: new Uint8Array([104, 105]) });
    expect(parseFrame(new Uint8Array([]))).toBeNull();
  });

  it("reads how the command ended from the error channel", () => {
    const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    expect(exitOf(enc({ status: "Success" }))).toEqual({ code: 0, message: "" });
    expect(exitOf(enc({ status: "Failure", message: "command terminated with non-zero exit code", reason: "NonZeroExitCode", details: { causes: [{ reason: "ExitCode", message: "2" }] } }))).toEqual({
      code: 2,
      message: "command terminated with non-zero exit code",
    });
    expect(exitOf(enc({ status: "Failure", message: "container not found" }))).toEqual({ code: null, message: "container not found" });
    expect(exitOf(new TextEncoder().encode("not json"))).toEqual({ code: null, message: "not json" });
  });

  it("types, resizes, shows output and ends", () => {
    const { socket, log, s } = session();
    expect(socket.binaryType).toBe("arraybuffer");
    s.input("early");
    expect(socket.sent).toHaveLength(0);
    socket.open();
    s.input("echo hi\r");
    s.resize(80, 24);
    s.resize(0, 24);
    expect(socket.sent.map((f) => f[0])).toEqual([0, 4]);
    socket.receive(Channel.Stdout, "hi\r\n");
    socket.receive(Channel.Stderr, "warn\r\n");
    socket.onmessage?.({ data: "text frames are not the protocol" });
    socket.receive(Channel.Error, JSON.stringify({ status: "Success" }));
    s.close();
    expect([...socket.sent[2]]).toEqual([255, 0]);
    expect(socket.closed).toBe(1000);
    socket.onclose?.({ code: 1000, reason: "" });
    expect(log).toEqual(["open", "out:hi\r\n", "out:warn\r\n", "exit:0:", "closed:true"]);
  });

  it("tells a refused handshake from an ended session", () => {
    const { socket, log } = session();
    socket.onerror?.({});
    socket.onclose?.({ code: 1006, reason: "" });
    expect(log).toEqual(["closed:false"]);
  });
});
