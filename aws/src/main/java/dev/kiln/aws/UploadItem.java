package dev.kiln.aws;

import java.nio.file.Path;

/**
 * Why: one file of a version to upload, shared by the publish, the look at what is there and the
 * uploader.
 */
record UploadItem(String rel, Path file, String sha256, long size, String key) {}
