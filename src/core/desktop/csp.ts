/**
 * The renderer's Content-Security-Policy, shared by the Electron main (app:// responses
 * and every session response) and the test bridge's HTTP server, so the Chromium tests
 * run the renderer under the same policy as the app: only our own files; no inline
 * script, no eval, no network, no frames, no forms.
 */
export const RENDERER_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "media-src 'none'",
  "object-src 'none'",
  "frame-src 'none'",
  "worker-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
