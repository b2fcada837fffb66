package dev.kiln.fleet;

import io.javalin.http.Context;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;

/**
 * The fleet page: GET /ui (the page), /ui/app.js, /ui/app.css, from the jar (boot networks have no
 * internet, so no CDN), and /ui/fleet.json, the data the page polls. The page and its scripts hold
 * no fleet data; the JSON does, and like every operator endpoint it wants the credential.
 */
final class FleetUi {
    private static final String ROOT = "kiln-ui/";
    private static final Map<String, String> FILES = Map.of(
            "", "index.html",
            "app.js", "app.js",
            "app.css", "app.css");
    private static final Map<String, String> TYPES = Map.of(
            "html", "text/html; charset=utf-8",
            "js", "text/javascript; charset=utf-8",
            "css", "text/css; charset=utf-8");

    private FleetUi() {}

    /** Serves one of the page's files; {@code name} is "" for the page itself. */
    static void asset(Context ctx, String name) throws IOException {
        String file = FILES.get(name);
        if (file == null) {
            KilnServer.plain(ctx, 404, "no such file of the fleet page: /ui/" + name);
            return;
        }
        byte[] body;
        try (InputStream in = FleetUi.class.getClassLoader().getResourceAsStream(ROOT + file)) {
            if (in == null) {
                throw new IOException("the jar has no " + ROOT + file);
            }
            body = in.readAllBytes();
        }
        ctx.status(200)
                .contentType(TYPES.get(file.substring(file.lastIndexOf('.') + 1)))
                // The page must not be framed by another site, nor run scripts from anywhere but
                // here.
                .header("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
                .header("X-Content-Type-Options", "nosniff")
                .header("Cache-Control", "no-store")
                .result(body);
    }
}
