package dev.kiln.core.store;

import dev.kiln.core.json.Json;
import dev.kiln.core.util.Hashing;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.InvalidKeyException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.SignatureException;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Detached Ed25519 signatures of manifest.json (which holds every artifact's sha256), kept beside
 * it as {@value #FILE}: the 64 raw signature bytes, so that anyone can check a version with plain
 * OpenSSL too ({@code openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in manifest.json
 * -sigfile manifest.json.sig}). Keys are PEM files as OpenSSL writes them: PKCS#8 private keys
 * ({@code openssl genpkey -algorithm ed25519}) and X.509 SubjectPublicKeyInfo public keys ({@code
 * openssl pkey -pubout}).
 *
 * <p>{@link #check} is the one place that decides whether a version is signed by a trusted key, for
 * every gate that needs it: kiln verify, kiln serve --trust, and later the promotion gate {@code
 * signed: {keys: [...]}} and the rollout plan's "unsigned target" blocker.
 */
public final class ManifestSignatures {
    public static final String FILE = "manifest.json.sig";
    static final String ALGORITHM = "Ed25519";
    private static final int SIGNATURE_BYTES = 64;
    private static final Pattern PEM =
            Pattern.compile("-----BEGIN ([A-Z ]+)-----\\s*([A-Za-z0-9+/=\\s]+?)\\s*-----END \\1-----");

    private ManifestSignatures() {}

    // ---- keys
    // ------------------------------------------------------------------------------------

    /**
     * A trusted public key and its short fingerprint (sha256 of its DER encoding), for messages.
     */
    public record Key(PublicKey key, String fingerprint, String source) {}

    public static KeyPair generate() {
        try {
            return KeyPairGenerator.getInstance(ALGORITHM).generateKeyPair();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JDK has no " + ALGORITHM, e);
        }
    }

    /**
     * Writes the private key (mode 0600) and the public key as PEM; refuses to overwrite either.
     */
    public static void writeKeyPair(KeyPair pair, Path privateFile, Path publicFile) throws IOException {
        for (Path p : List.of(privateFile, publicFile)) {
            if (Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException(p + " exists already; kiln does not overwrite keys");
            }
        }
        Path dir = privateFile.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(
                dir,
                ".key.",
                ".tmp",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.writeString(tmp, pem("PRIVATE KEY", pair.getPrivate().getEncoded()));
            Files.move(tmp, privateFile, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
        Files.writeString(publicFile, pem("PUBLIC KEY", pair.getPublic().getEncoded()));
    }

    public static PrivateKey readPrivateKey(Path file) throws IOException {
        byte[] der = pemBody(
                file,
                "PRIVATE KEY",
                "a PKCS#8 private key (-----BEGIN PRIVATE KEY-----, as"
                        + " 'openssl genpkey -algorithm ed25519' or 'kiln keygen' writes it)");
        try {
            return KeyFactory.getInstance(ALGORITHM).generatePrivate(new PKCS8EncodedKeySpec(der));
        } catch (GeneralSecurityException e) {
            throw new IOException(file + ": not an Ed25519 private key (" + e.getMessage() + ")");
        }
    }

    public static Key readPublicKey(Path file) throws IOException {
        byte[] der = pemBody(
                file,
                "PUBLIC KEY",
                "a public key (-----BEGIN PUBLIC KEY-----, as" + " 'openssl pkey -pubout' or 'kiln keygen' writes it)");
        try {
            PublicKey k = KeyFactory.getInstance(ALGORITHM).generatePublic(new X509EncodedKeySpec(der));
            return new Key(k, fingerprint(k), file.toString());
        } catch (GeneralSecurityException e) {
            throw new IOException(file + ": not an Ed25519 public key (" + e.getMessage() + ")");
        }
    }

    public static List<Key> readPublicKeys(List<Path> files) throws IOException {
        List<Key> keys = new ArrayList<>();
        for (Path f : files) {
            keys.add(readPublicKey(f));
        }
        return List.copyOf(keys);
    }

    /** "ed25519:" and the first 16 hex digits of the sha256 of the key's DER encoding. */
    public static String fingerprint(PublicKey key) {
        return "ed25519:" + Hashing.sha256(key.getEncoded()).substring(0, 16);
    }

    // ---- signing
    // ---------------------------------------------------------------------------------

    /** Signs the version's manifest.json as it is on disk; returns the signature file. */
    public static Path sign(Path versionDir, PrivateKey key) throws IOException {
        byte[] manifest = readManifest(versionDir);
        byte[] sig;
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initSign(key);
            s.update(manifest);
            sig = s.sign();
        } catch (InvalidKeyException e) {
            throw new IOException("the key is not an Ed25519 private key: " + e.getMessage());
        } catch (GeneralSecurityException e) {
            throw new IOException("signing failed: " + e.getMessage(), e);
        }
        Path out = versionDir.resolve(FILE);
        Path tmp = versionDir.resolve("." + FILE + ".tmp");
        Files.write(tmp, sig);
        Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        return out;
    }

    static boolean verifies(byte[] manifest, byte[] signature, PublicKey key) {
        try {
            Signature s = Signature.getInstance(ALGORITHM);
            s.initVerify(key);
            s.update(manifest);
            return s.verify(signature);
        } catch (SignatureException | InvalidKeyException e) {
            return false;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- checking
    // --------------------------------------------------------------------------------

    /**
     * The outcome of a check. {@code signedBy} is the fingerprint of the trusted key that made the
     * signature; {@code problem} says why the version is not trusted (null when it is); {@code
     * badArtifacts} names each artifact that does not match the signed manifest.
     */
    public record Verdict(String signedBy, String problem, List<String> badArtifacts, Manifest manifest) {
        public boolean trusted() {
            return problem == null;
        }
    }

    /**
     * Checks the signature of the version's manifest.json against the trusted keys, then the
     * artifacts that {@code which} selects against the signed manifest (size and sha256). The
     * manifest is read once: what is verified is what is returned.
     */
    public static Verdict check(Path versionDir, List<Key> trusted, Predicate<String> which) throws IOException {
        if (trusted.isEmpty()) {
            throw new IllegalArgumentException("no trusted keys given");
        }
        byte[] manifestBytes = readManifest(versionDir);
        Path sigFile = versionDir.resolve(FILE);
        if (!Files.isRegularFile(sigFile)) {
            return new Verdict(null, "not signed (no " + FILE + "; kiln sign makes one)", List.of(), null);
        }
        byte[] sig = Files.readAllBytes(sigFile);
        Key by = null;
        if (sig.length == SIGNATURE_BYTES) {
            for (Key k : trusted) {
                if (verifies(manifestBytes, sig, k.key())) {
                    by = k;
                    break;
                }
            }
        }
        if (by == null) {
            String keys =
                    String.join(", ", trusted.stream().map(Key::fingerprint).toList());
            return new Verdict(
                    null,
                    sig.length != SIGNATURE_BYTES
                            ? FILE
                                    + " is not an Ed25519 signature ("
                                    + sig.length
                                    + " bytes, expected "
                                    + SIGNATURE_BYTES
                                    + ")"
                            : "its signature does not verify with any trusted key ("
                                    + keys
                                    + "): signed with another key,"
                                    + " or manifest.json was changed after signing",
                    List.of(),
                    null);
        }
        Manifest manifest = Json.MAPPER.readValue(manifestBytes, Manifest.class);
        List<String> bad = new ArrayList<>();
        Map<String, Manifest.Artifact> artifacts = manifest.artifacts() == null ? Map.of() : manifest.artifacts();
        for (Map.Entry<String, Manifest.Artifact> a : artifacts.entrySet()) {
            if (which.test(a.getKey())) {
                String why = mismatch(versionDir, a.getKey(), a.getValue());
                if (why != null) {
                    bad.add(why);
                }
            }
        }
        String problem = bad.isEmpty()
                ? null
                : bad.size() == 1
                        ? bad.get(0)
                        : bad.size() + " artifacts do not match the signed manifest: " + String.join("; ", bad);
        return new Verdict(by.fingerprint(), problem, List.copyOf(bad), manifest);
    }

    /** Why an artifact does not match its manifest entry, naming it; null when it matches. */
    private static String mismatch(Path dir, String rel, Manifest.Artifact expected) throws IOException {
        Path f = dir.resolve(rel).normalize();
        if (!f.startsWith(dir) || !Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
            return rel + " is missing";
        }
        long size = Files.size(f);
        if (size != expected.size()) {
            return rel + " is " + size + " bytes, the signed manifest says " + expected.size();
        }
        String sha = Hashing.sha256(f);
        if (!sha.equals(expected.sha256())) {
            return rel
                    + " does not match the signed manifest (sha256 "
                    + sha.substring(0, 16)
                    + "..., signed "
                    + expected.sha256().substring(0, 16)
                    + "...)";
        }
        return null;
    }

    // ---- helpers
    // ---------------------------------------------------------------------------------

    private static byte[] readManifest(Path versionDir) throws IOException {
        try {
            return Files.readAllBytes(versionDir.resolve(ImageStore.MANIFEST));
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException("no " + ImageStore.MANIFEST + " in " + versionDir);
        }
    }

    private static String pem(String type, byte[] der) {
        return "-----BEGIN "
                + type
                + "-----\n"
                + Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                        .encodeToString(der)
                + "\n-----END "
                + type
                + "-----\n";
    }

    private static byte[] pemBody(Path file, String type, String expected) throws IOException {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file + ": no such key file");
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IOException(file + ": expected " + expected + ", found binary data");
        }
        Matcher m = PEM.matcher(text);
        while (m.find()) {
            if (m.group(1).equals(type)) {
                return Base64.getMimeDecoder().decode(m.group(2));
            }
        }
        throw new IOException(file + ": expected " + expected);
    }
}
