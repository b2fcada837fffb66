package dev.kiln.builder.apt;

/** The Debian-like test mirror of {@link UpdateIndexTest}, for tests in other packages. */
public final class UpdateIndexTestAccess {
    private UpdateIndexTestAccess() {}

    public static LocalMirror debianLike() throws Exception {
        return UpdateIndexTest.debianLike();
    }
}
