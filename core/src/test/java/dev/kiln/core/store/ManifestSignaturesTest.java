package dev.kiln.core.store;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.kiln.core.exec.Exec;
import dev.kiln.core.json.Json;
import dev.kiln.core.util.Hashing;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Signing and verifying a stored version with real Ed25519 keys (the JDK's, and OpenSSL's). */
class ManifestSignaturesTest {
    @TempDir
    Path tmp;

    Path dir;
    Path key;
    Path pub;

    @BeforeEach
    void version() throws Exception {
        dir = tmp.resolve("store/node/1.0");
        Map<String, byte[]> files = new LinkedHashMap<>();
        files.put("pxe/vmlinuz", "kernel".getBytes(StandardCharsets.UTF_8));
        files.put("pxe/rootfs.squashfs", new byte[4096]);
        files.put("rootfs.tar", "tar bytes".getBytes(StandardCharsets.UTF_8));
        Map<String, Manifest.Artifact> artifacts = new LinkedHashMap<>();
        for (var f : files.entrySet()) {
            Files.createDirectories(dir.resolve(f.getKey()).getParent());
            Files.write(dir.resolve(f.getKey()), f.getValue());
            artifacts.put(f.getKey(), new Manifest.Artifact(Hashing.sha256(f.getValue()), f.getValue().length));
        }
        Json.MAPPER.writeValue(
                dir.resolve(ImageStore.MANIFEST).toFile(),
                new Manifest(
                        Manifest.SCHEMA,
                        "node",
                        "1.0",
                        null,
                        "0".repeat(64),
                        "2026-11-27T00:00:00Z",
                        1.0,
                        "test",
                        null,
                        null,
                        Map.of(),
                        Map.of(),
                        List.of(),
                        Map.of(),
                        List.of(),
                        List.of("pxe"),
                        artifacts,
                        null));
        key = tmp.resolve("keys/release.pem");
        pub = tmp.resolve("keys/release.pub.pem");
        ManifestSignatures.writeKeyPair(ManifestSignatures.generate(), key, pub);
    }

    private ManifestSignatures.Verdict verify(Path publicKey) throws Exception {
        return ManifestSignatures.check(dir, List.of(ManifestSignatures.readPublicKey(publicKey)), a -> true);
    }

    @Test
    void aSignedVersionVerifiesWithItsKey() throws Exception {
        ManifestSignatures.sign(dir, ManifestSignatures.readPrivateKey(key));
        ManifestSignatures.Verdict v = verify(pub);
        assertThat(v.trusted()).as(String.valueOf(v.problem())).isTrue();
        assertThat(v.signedBy()).isEqualTo(ManifestSignatures.readPublicKey(pub).fingerprint());
        assertThat(v.manifest().artifacts()).hasSize(3);
        assertThat(Files.getPosixFilePermissions(key))
                .extracting(Object::toString)
                .containsExactlyInAnyOrder("OWNER_READ", "OWNER_WRITE");
    }

    @Test
    void aFlippedByteInAnyArtifactFailsNamingIt() throws Exception {
        ManifestSignatures.sign(dir, ManifestSignatures.readPrivateKey(key));
        for (String artifact : List.of("pxe/vmlinuz", "pxe/rootfs.squashfs", "rootfs.tar")) {
            Path f = dir.resolve(artifact);
            byte[] original = Files.readAllBytes(f);
            byte[] flipped = original.clone();
            flipped[flipped.length / 2] ^= 0x01;
            Files.write(f, flipped);
            ManifestSignatures.Verdict v = verify(pub);
            assertThat(v.trusted()).as(artifact).isFalse();
            assertThat(v.signedBy()).as("the signature itself is still good").isNotNull();
            assertThat(v.badArtifacts())
                    .singleElement()
                    .asString()
                    .startsWith(artifact + " does not match the signed manifest");
            Files.write(f, original);
        }
        assertThat(verify(pub).trusted()).isTrue();
    }

    @Test
    void aSignatureByAnotherKeyOrOfAnEditedManifestFails() throws Exception {
        Path otherKey = tmp.resolve("keys/other.pem");
        Path otherPub = tmp.resolve("keys/other.pub.pem");
        ManifestSignatures.writeKeyPair(ManifestSignatures.generate(), otherKey, otherPub);
        ManifestSignatures.sign(dir, ManifestSignatures.readPrivateKey(otherKey));
        ManifestSignatures.Verdict v = verify(pub);
        assertThat(v.trusted()).isFalse();
        assertThat(v.signedBy()).isNull();
        assertThat(v.problem())
                .contains("does not verify with any trusted key")
                .contains(ManifestSignatures.readPublicKey(pub).fingerprint());
        // Either key of several may have signed.
        assertThat(ManifestSignatures.check(dir, ManifestSignatures.readPublicKeys(List.of(pub, otherPub)), a -> true)
                        .trusted())
                .isTrue();

        ManifestSignatures.sign(dir, ManifestSignatures.readPrivateKey(key));
        String m = Files.readString(dir.resolve(ImageStore.MANIFEST));
        Files.writeString(dir.resolve(ImageStore.MANIFEST), m.replace("\"1.0\"", "\"1.1\""));
        assertThat(verify(pub).problem()).contains("does not verify");
    }

    @Test
    void anUnsignedVersionIsSaidToBeUnsigned() throws Exception {
        ManifestSignatures.Verdict v = verify(pub);
        assertThat(v.trusted()).isFalse();
        assertThat(v.problem()).contains("not signed").contains("manifest.json.sig");
    }

    @Test
    void opensslKeysWorkAndOpensslChecksKilnsSignature() throws Exception {
        Path sslKey = tmp.resolve("ssl.pem");
        Path sslPub = tmp.resolve("ssl.pub.pem");
        Exec.of("openssl", "genpkey", "-algorithm", "ed25519", "-out", sslKey.toString())
                .run();
        Exec.of("openssl", "pkey", "-in", sslKey.toString(), "-pubout", "-out", sslPub.toString())
                .run();
        Path sig = ManifestSignatures.sign(dir, ManifestSignatures.readPrivateKey(sslKey));
        assertThat(verify(sslPub).trusted()).isTrue();
        assertThat(Exec.of(
                                "openssl",
                                "pkeyutl",
                                "-verify",
                                "-pubin",
                                "-inkey",
                                sslPub.toString(),
                                "-rawin",
                                "-in",
                                dir.resolve(ImageStore.MANIFEST).toString(),
                                "-sigfile",
                                sig.toString())
                        .run())
                .contains("Signature Verified Successfully");
        // And kiln's own public key file is one OpenSSL reads.
        assertThat(Exec.of("openssl", "pkey", "-pubin", "-in", pub.toString(), "-noout", "-text")
                        .run())
                .contains("ED25519");
    }

    @Test
    void badKeyFilesSayWhatWasExpected() throws Exception {
        assertThatThrownBy(() -> ManifestSignatures.readPrivateKey(pub))
                .hasMessageContaining(pub.toString())
                .hasMessageContaining("PKCS#8 private key");
        assertThatThrownBy(() -> ManifestSignatures.readPublicKey(key))
                .hasMessageContaining(key.toString())
                .hasMessageContaining("public key");
        assertThatThrownBy(() -> ManifestSignatures.readPublicKey(tmp.resolve("nope.pem")))
                .hasMessageContaining("nope.pem")
                .hasMessageContaining("no such key file");
        assertThatThrownBy(() -> ManifestSignatures.writeKeyPair(ManifestSignatures.generate(), key, pub))
                .hasMessageContaining("exists already");
    }
}
