package dev.kiln.fleet;

/** HOST:PORT as given to --admin-listen ([::1]:9090 for IPv6; port 0 picks a free one). */
public record ListenAddress(String host, int port) {
    public static ListenAddress parse(String flag, String text) {
        int colon = text == null ? -1 : text.lastIndexOf(':');
        String host;
        int port;
        try {
            host = text.substring(0, colon);
            port = Integer.parseInt(text.substring(colon + 1));
        } catch (NumberFormatException | IndexOutOfBoundsException | NullPointerException e) {
            throw new IllegalArgumentException(flag + ": expected HOST:PORT like 127.0.0.1:9090, got '" + text + "'");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException(flag + ": port must be 0-65535, got '" + text + "'");
        }
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        return new ListenAddress(host.isEmpty() ? "0.0.0.0" : host, port);
    }
}
