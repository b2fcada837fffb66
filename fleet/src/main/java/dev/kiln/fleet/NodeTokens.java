package dev.kiln.fleet;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Set;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-node credentials: token = hex(HMAC-SHA256(server secret, canonical MAC)). Deriving instead of
 * storing tokens means nothing per node to keep or rotate, a node added to the inventory has a
 * token at once, and a stolen token is good for one node only. The secret is generated on first
 * start and kept in the state directory so tokens (already baked into nodes' kernel command lines)
 * survive restarts; deleting it revokes every token.
 */
public final class NodeTokens {
    private static final Logger LOG = LoggerFactory.getLogger(NodeTokens.class);
    static final String SECRET_FILE = "secret";
    private static final String ALGORITHM = "HmacSHA256";

    private final SecretKeySpec key;

    private NodeTokens(byte[] secret) {
        this.key = new SecretKeySpec(secret, ALGORITHM);
    }

    /** Reads the secret from the state directory, creating it (32 random bytes, 0600) if absent. */
    public static NodeTokens loadOrCreate(StateDir state) throws IOException {
        Path file = state.file(SECRET_FILE);
        if (!Files.exists(file)) {
            byte[] secret = new byte[32];
            new SecureRandom().nextBytes(secret);
            state.writeAtomically(
                    SECRET_FILE, (HexFormat.of().formatHex(secret) + "\n").getBytes(StandardCharsets.US_ASCII));
            LOG.info("generated a new token secret in {}", file);
            return new NodeTokens(secret);
        }
        if (StateDir.posix()) {
            Set<java.nio.file.attribute.PosixFilePermission> mode = Files.getPosixFilePermissions(file);
            if (!mode.equals(StateDir.FILE_MODE)) {
                LOG.warn(
                        "{} was readable by others ({}); setting it to 0600",
                        file,
                        java.nio.file.attribute.PosixFilePermissions.toString(mode));
                Files.setPosixFilePermissions(file, StateDir.FILE_MODE);
            }
        }
        String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
        if (!text.matches("[0-9a-f]{64}")) {
            // Never silently replace it: a new secret would invalidate the token of every node.
            throw new IOException(file
                    + " is not a kiln token secret (64 hex digits); fix or delete it"
                    + " (deleting it invalidates the tokens of nodes booted so far)");
        }
        return new NodeTokens(HexFormat.of().parseHex(text));
    }

    /** The token of the node with this MAC (any spelling). */
    public String token(String mac) {
        String canonical = MacAddress.normalize(mac);
        if (canonical == null) {
            throw new IllegalArgumentException("not a MAC address: " + mac);
        }
        try {
            Mac hmac = Mac.getInstance(ALGORITHM);
            hmac.init(key);
            return HexFormat.of().formatHex(hmac.doFinal(canonical.getBytes(StandardCharsets.US_ASCII)));
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is unavailable", e);
        }
    }

    /**
     * A one-way digest of a token, used as the lookup key from token to node: comparing digests
     * reveals nothing about the token through timing.
     */
    static String digest(String token) {
        try {
            return HexFormat.of()
                    .formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
