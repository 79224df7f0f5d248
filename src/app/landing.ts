import { VERSION } from '../version.js';

/**
 * The root page when the web app is not built (a checkout where `npm install` skipped its
 * scripts): says how to build it, and where the API is meanwhile.
 */
export const landingPage = (): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Billfold</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2937}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}a{color:#2563eb}</style></head>
<body><h1>Billfold ${VERSION}</h1>
<p>Billing and provisioning for hosting providers.</p>
<p><strong>The web app is not built.</strong> Run <code>npm run build:web</code> (<code>npm install</code> runs it too), then reload this page.</p>
<ul>
<li><a href="/api/docs">API documentation</a> (OpenAPI: <a href="/api/openapi.json">/api/openapi.json</a>)</li>
<li><a href="/api/health">Health</a></li>
</ul>
<p>Sign in with <code>POST /api/v1/auth/login</code> using the admin credentials printed when Billfold first started.</p>
</body></html>`;
