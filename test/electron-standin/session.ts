/**
 * TEST-ONLY (Electron stand-in): the default session — its protocol handlers, the
 * `webRequest.onHeadersReceived` hook, permission handlers and downloads — and the
 * `protocol` module. A page load goes through here: the scheme's handler (or a real
 * fetch for http/https), then the header hook, as Chromium applies it to every response.
 */
import { Emitter, electronEvent } from './events.js';
import type { LoadedResponse, StandinWebContents } from './windows.js';
import type { World } from './world.js';

type ProtocolHandler = (request: Request) => Response | Promise<Response>;
type HeadersListener = (
  details: Electron.OnHeadersReceivedListenerDetails,
  callback: (response: Electron.HeadersReceivedResponse) => void,
) => void;
type Permission = Parameters<NonNullable<Parameters<Electron.Session['setPermissionRequestHandler']>[0]>>[1];
type RequestHandler = NonNullable<Parameters<Electron.Session['setPermissionRequestHandler']>[0]>;
type CheckHandler = NonNullable<Parameters<Electron.Session['setPermissionCheckHandler']>[0]>;
type DeviceHandler = NonNullable<Parameters<Electron.Session['setDevicePermissionHandler']>[0]>;

/** A failed load, with Chromium's net error code. */
export class NetError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
  ) {
    super(description);
  }
}

export class StandinProtocol implements Pick<
  Electron.Protocol,
  'handle' | 'unhandle' | 'isProtocolHandled' | 'registerSchemesAsPrivileged'
> {
  readonly $handlers = new Map<string, ProtocolHandler>();

  constructor(private readonly world: World) {}

  handle(scheme: string, handler: ProtocolHandler): void {
    if (this.$handlers.has(scheme)) throw new Error(`Failed to register protocol: ${scheme}`);
    this.$handlers.set(scheme, handler);
  }

  unhandle(scheme: string): void {
    this.$handlers.delete(scheme);
  }

  isProtocolHandled(scheme: string): boolean {
    return this.$handlers.has(scheme);
  }

  registerSchemesAsPrivileged(customSchemes: Electron.CustomScheme[]): void {
    if (this.world.app.isReady()) throw new Error('protocol.registerSchemesAsPrivileged should be called before app is ready');
    this.world.privilegedSchemes.push(...customSchemes);
  }
}

export class StandinWebRequest implements Pick<Electron.WebRequest, 'onHeadersReceived'> {
  $headersListener: HeadersListener | null = null;

  onHeadersReceived(filterOrListener: Electron.WebRequestFilter | HeadersListener | null, listener?: HeadersListener | null): void {
    this.$headersListener = typeof filterOrListener === 'function' || filterOrListener === null ? filterOrListener : (listener ?? null);
  }
}

type SessionApi =
  'setPermissionRequestHandler' | 'setPermissionCheckHandler' | 'setDevicePermissionHandler' | 'on' | 'once' | 'off' | 'removeListener';

export class StandinSession extends Emitter implements Pick<Electron.Session, SessionApi> {
  readonly protocol: StandinProtocol;
  readonly webRequest = new StandinWebRequest();
  $requestHandler: RequestHandler | null = null;
  $checkHandler: CheckHandler | null = null;
  $deviceHandler: DeviceHandler | null = null;
  private requestId = 0;

  constructor(world: World) {
    super();
    this.protocol = new StandinProtocol(world);
  }

  setPermissionRequestHandler(handler: RequestHandler | null): void {
    this.$requestHandler = handler;
  }

  setPermissionCheckHandler(handler: CheckHandler | null): void {
    this.$checkHandler = handler;
  }

  setDevicePermissionHandler(handler: DeviceHandler | null): void {
    this.$deviceHandler = handler;
  }

  /** A page asks for a permission: Electron grants it when no handler is set. */
  $requestPermission(contents: StandinWebContents, permission: Permission): Promise<boolean> {
    const handler = this.$requestHandler;
    if (!handler) return Promise.resolve(true);
    return new Promise((resolve) => {
      const details: Electron.PermissionRequest = { requestingUrl: contents.getURL(), isMainFrame: true };
      handler(contents as unknown as Electron.WebContents, permission, resolve, details);
    });
  }

  /** A synchronous permission check (e.g. navigator.permissions.query). */
  $checkPermission(contents: StandinWebContents, permission: Permission): boolean {
    const handler = this.$checkHandler;
    if (!handler) return true;
    const origin = contents.mainFrame.origin;
    return handler(contents as unknown as Electron.WebContents, permission, origin, {
      requestingUrl: contents.getURL(),
      isMainFrame: true,
    });
  }

  /** A page asks for a USB/HID/serial device. */
  $checkDevice(deviceType: 'hid' | 'serial' | 'usb'): boolean {
    const handler = this.$deviceHandler;
    if (!handler) return false;
    return handler({ deviceType, origin: 'app://renderer', device: { deviceId: 'standin', name: 'stand-in device' } as never });
  }

  /** A download starts: returns whether the app cancelled it. */
  $download(contents: StandinWebContents): boolean {
    const e = electronEvent();
    this.emit('will-download', e, { getFilename: () => 'x.bin' }, contents, contents.mainFrame);
    return e.defaultPrevented;
  }

  /** What a request to `url` returns through this session: the handler, then the header hook. */
  async $fetch(url: string, init: RequestInit = {}, contents?: StandinWebContents): Promise<LoadedResponse> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new NetError(-300, 'ERR_INVALID_URL');
    }
    const scheme = parsed.protocol.slice(0, -1);
    let response: Response;
    const handler = this.protocol.$handlers.get(scheme);
    if (handler) {
      try {
        response = await handler(new Request(url, init));
      } catch {
        throw new NetError(-2, 'ERR_FAILED');
      }
    } else if (scheme === 'http' || scheme === 'https') {
      // Loopback only (a dev server in a test): the machines that run the tests have no
      // internet, so anything else fails as an unresolvable name would, at once.
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(parsed.hostname)) throw new NetError(-105, 'ERR_NAME_NOT_RESOLVED');
      try {
        response = await fetch(url, init);
      } catch {
        throw new NetError(-102, 'ERR_CONNECTION_REFUSED');
      }
    } else {
      throw new NetError(-302, 'ERR_UNKNOWN_URL_SCHEME');
    }
    const headers: Record<string, string[]> = {};
    response.headers.forEach((value, key) => {
      (headers[key] ??= []).push(value);
    });
    const body = await response.text();
    const final = await this.applyHeaderHook(url, response, headers, contents);
    return { url, status: response.status, headers: final, body };
  }

  /** Loads a page's main document (what webContents.loadURL uses). */
  $load(url: string, contents: StandinWebContents): Promise<LoadedResponse> {
    return this.$fetch(url, {}, contents);
  }

  private applyHeaderHook(
    url: string,
    response: Response,
    headers: Record<string, string[]>,
    contents: StandinWebContents | undefined,
  ): Promise<Record<string, string[]>> {
    const listener = this.webRequest.$headersListener;
    if (!listener) return Promise.resolve(headers);
    const details: Electron.OnHeadersReceivedListenerDetails = {
      id: ++this.requestId,
      url,
      method: 'GET',
      resourceType: 'mainFrame',
      referrer: '',
      timestamp: Date.now(),
      statusLine: `HTTP/1.1 ${response.status}`,
      statusCode: response.status,
      responseHeaders: headers,
      ...(contents ? { webContentsId: contents.id } : {}),
    };
    return new Promise((resolve, reject) => {
      listener(details, (answer) => {
        if (answer.cancel) {
          reject(new NetError(-3, 'ERR_ABORTED'));
          return;
        }
        if (!answer.responseHeaders) {
          resolve(headers);
          return;
        }
        const out: Record<string, string[]> = {};
        for (const [k, v] of Object.entries(answer.responseHeaders)) out[k] = Array.isArray(v) ? v : [v];
        resolve(out);
      });
    });
  }
}
