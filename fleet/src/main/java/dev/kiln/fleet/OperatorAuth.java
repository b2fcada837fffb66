package dev.kiln.fleet;

import io.javalin.http.Context;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who may look at the fleet: the operator endpoints (the page, /nodes, /metrics, the image listing)
 * want one of
 *
 * <ul>
 *   <li>the operator token, {@code Authorization: Bearer TOKEN}: 32 random bytes generated at first
 *       start into {@code operator-token} in the state directory (0600), for the CLI, Prometheus
 *       and scripts; or the same token as the password of HTTP basic auth (any user name), which is
 *       how a browser sends it;
 *   <li>a user of {@code operators} in the state directory, by basic auth: lines {@code
 *       NAME:pbkdf2-sha256:ITERATIONS:SALT_HEX:HASH_HEX}, written by {@code kiln serve
 *       --add-operator NAME}.
 * </ul>
 *
 * Node tokens are no operator credential: a node sees only its own metadata and its cluster's
 * steps. Secrets are compared through their SHA-256 digests in constant time.
 */
public final class OperatorAuth {
    private static final Logger LOG = LoggerFactory.getLogger(OperatorAuth.class);
    public static final String TOKEN_FILE = "operator-token";
    public static final String USERS_FILE = "operators";
    static final String REALM = "kiln operator";
    private static final int ITERATIONS = 210_000;

    private final StateDir state;
    private final String token;
    private final byte[] tokenDigest;
    private final String newToken;
    private volatile Users users = new Users(-1, -1, Map.of());

    /**
     * Digests of user:password pairs that passed PBKDF2, so a page polling every 2 s costs one
     * hash, not one each time.
     */
    private final Map<String, String> verified = new java.util.concurrent.ConcurrentHashMap<>();

    private record User(int iterations, byte[] salt, byte[] hash) {}

    /** The users file as last read, with its mtime and size so an edit is picked up. */
    private record Users(long mtime, long size, Map<String, User> byName) {}

    private OperatorAuth(StateDir state, String token, boolean generated) {
        this.state = state;
        this.token = token;
        this.tokenDigest = digest(token);
        this.newToken = generated ? token : null;
    }

    /** Reads the operator token from the state directory, generating it (0600) on first start. */
    public static OperatorAuth loadOrCreate(StateDir state) throws IOException {
        Path file = state.file(TOKEN_FILE);
        if (!Files.exists(file)) {
            byte[] raw = new byte[32];
            new SecureRandom().nextBytes(raw);
            String token = HexFormat.of().formatHex(raw);
            state.writeAtomically(TOKEN_FILE, (token + "\n").getBytes(StandardCharsets.US_ASCII));
            LOG.info("generated the operator token in {}", file);
            return new OperatorAuth(state, token, true);
        }
        if (StateDir.posix() && !Files.getPosixFilePermissions(file).equals(StateDir.FILE_MODE)) {
            LOG.warn("{} was readable by others; setting it to 0600", file);
            Files.setPosixFilePermissions(file, StateDir.FILE_MODE);
        }
        String token = Files.readString(file, StandardCharsets.US_ASCII).trim();
        if (token.length() < 32 || !token.matches("[\\x21-\\x7e]+")) {
            throw new IOException(file
                    + " is not an operator token (32 or more printable characters on one line);"
                    + " fix it, or delete it to have a new one generated");
        }
        return new OperatorAuth(state, token, false);
    }

    /** The token if this start generated it (to be shown once), else null. */
    public String newToken() {
        return newToken;
    }

    /** The operator token, for in-process callers (tests, a CLI running serve itself). */
    public String token() {
        return token;
    }

    /**
     * The token in a state directory, or null if there is none or it cannot be read (for local CLI
     * use).
     */
    public static String readToken(Path stateDir) {
        try {
            String t = Files.readString(stateDir.resolve(TOKEN_FILE), StandardCharsets.US_ASCII)
                    .trim();
            return t.isEmpty() ? null : t;
        } catch (IOException e) {
            return null;
        }
    }

    /** The operator a request authenticates as ("token" or a user name), or null. */
    String operator(Context ctx) {
        String auth = ctx.header("Authorization");
        if (auth == null) {
            return null;
        }
        if (auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return isToken(auth.substring(7).trim()) ? "token" : null;
        }
        if (auth.regionMatches(true, 0, "Basic ", 0, 6)) {
            String pair;
            try {
                pair = new String(Base64.getDecoder().decode(auth.substring(6).trim()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return null;
            }
            int colon = pair.indexOf(':');
            if (colon < 0) {
                return null;
            }
            String name = pair.substring(0, colon);
            String password = pair.substring(colon + 1);
            if (isToken(password)) {
                return "token";
            }
            Map<String, User> byName = users();
            String key = HexFormat.of().formatHex(digest(name + "\0" + password));
            if (verified.containsKey(key)) {
                return verified.get(key);
            }
            User u = byName.get(name);
            if (u != null && MessageDigest.isEqual(u.hash(), pbkdf2(password, u.salt(), u.iterations()))) {
                if (verified.size() < 1000) {
                    verified.put(key, name);
                }
                return name;
            }
            return null;
        }
        return null;
    }

    private boolean isToken(String candidate) {
        return MessageDigest.isEqual(tokenDigest, digest(candidate));
    }

    private Map<String, User> users() {
        Path file = state.file(USERS_FILE);
        try {
            if (!Files.exists(file)) {
                verified.clear();
                return Map.of();
            }
            long mtime = Files.getLastModifiedTime(file).toMillis();
            long size = Files.size(file);
            Users cached = users;
            if (cached.mtime() == mtime && cached.size() == size) {
                return cached.byName();
            }
            Map<String, User> parsed = parse(file);
            verified.clear(); // a removed user or a changed password counts at once
            users = new Users(mtime, size, parsed);
            return parsed;
        } catch (IOException e) {
            LOG.error("cannot read operator users from {}: {}", file, e.toString());
            return Map.of();
        }
    }

    private static Map<String, User> parse(Path file) throws IOException {
        Map<String, User> out = new LinkedHashMap<>();
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).trim();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split(":");
            try {
                if (f.length != 5 || !"pbkdf2-sha256".equals(f[1])) {
                    throw new IllegalArgumentException("expected NAME:pbkdf2-sha256:ITERATIONS:SALT_HEX:HASH_HEX");
                }
                out.put(
                        f[0],
                        new User(
                                Integer.parseInt(f[2]),
                                HexFormat.of().parseHex(f[3]),
                                HexFormat.of().parseHex(f[4])));
            } catch (IllegalArgumentException e) {
                LOG.error("{}:{}: ignored: {}", file, i + 1, e.getMessage());
            }
        }
        return out;
    }

    /**
     * Adds (or replaces) a basic-auth operator in the state directory's users file (0600). Names
     * are [A-Za-z0-9._-]; the password is kept only as a salted PBKDF2 hash.
     */
    public static void addUser(Path stateDir, String name, String password) throws IOException {
        if (name == null || !name.matches("[A-Za-z0-9._-]{1,64}")) {
            throw new IllegalArgumentException(
                    "--add-operator: expected a user name of letters, digits, '.', '_' or '-', got '" + name + "'");
        }
        if (password == null || password.length() < 12) {
            throw new IllegalArgumentException("--add-operator: the password must have at least 12 characters");
        }
        StateDir state = StateDir.open(stateDir);
        Path file = state.file(USERS_FILE);
        List<String> kept = new ArrayList<>();
        if (Files.exists(file)) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.startsWith(name + ":")) {
                    kept.add(line);
                }
            }
        }
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        kept.add(name
                + ":pbkdf2-sha256:"
                + ITERATIONS
                + ":"
                + HexFormat.of().formatHex(salt)
                + ":"
                + HexFormat.of().formatHex(pbkdf2(password, salt, ITERATIONS)));
        state.writeAtomically(USERS_FILE, (String.join("\n", kept) + "\n").getBytes(StandardCharsets.UTF_8));
    }

    private static byte[] pbkdf2(String password, byte[] salt, int iterations) {
        try {
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256")
                    .generateSecret(new PBEKeySpec(password.toCharArray(), salt, iterations, 256))
                    .getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 is unavailable", e);
        }
    }

    private static byte[] digest(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }
}
