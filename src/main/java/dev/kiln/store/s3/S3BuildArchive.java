package dev.kiln.store.s3;

import dev.kiln.store.BuildArchive;
import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeSet;

/**
 * Build records as {@code builds/<id>/build.json} and logs as chunks
 * {@code builds/<id>/log/<offset, 20 digits>}: S3 objects cannot be appended to, and zero-padded
 * offsets list in log order. A reader anywhere finds the chunk holding an offset by listing.
 */
final class S3BuildArchive implements BuildArchive {
    private final S3Objects objects;

    S3BuildArchive(S3Objects objects) {
        this.objects = objects;
    }

    private static String dir(String id) {
        return "builds/" + BuildArchive.checked(id) + "/";
    }

    @Override
    public void saveRecord(String id, byte[] json) throws IOException {
        objects.put(dir(id) + "build.json", json);
    }

    @Override
    public Optional<byte[]> record(String id) throws IOException {
        return objects.getBytes(dir(id) + "build.json");
    }

    @Override
    public List<String> ids() throws IOException {
        TreeSet<String> ids = new TreeSet<>();
        objects.list("builds/", meta -> {
            String[] parts = meta.key().split("/");
            if (parts.length == 3 && parts[2].equals("build.json") && parts[1].matches("[0-9a-f]{20}")) {
                ids.add(parts[1]);
            }
        });
        return new ArrayList<>(ids);
    }

    @Override
    public void delete(String id) throws IOException {
        objects.deleteQuietly(dir(id) + "build.json");
        List<String> chunks = new ArrayList<>();
        objects.list(dir(id), meta -> chunks.add(meta.key()));
        for (String key : chunks) {
            objects.deleteQuietly(key);
        }
    }

    @Override
    public void appendLog(String id, long offset, byte[] bytes) throws IOException {
        if (bytes.length > 0) {
            objects.put(dir(id) + "log/" + String.format("%020d", offset), bytes);
        }
    }

    @Override
    public byte[] readLog(String id, long offset, int max) throws IOException {
        String prefix = dir(id) + "log/";
        List<long[]> chunks = new ArrayList<>(); // {start, size}
        objects.list(prefix, meta -> {
            String name = meta.key().substring(prefix.length());
            if (name.matches("\\d{20}")) {
                chunks.add(new long[] {Long.parseLong(name), meta.size()});
            }
        });
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        long at = offset;
        for (long[] chunk : chunks) {
            long end = chunk[0] + chunk[1];
            if (out.size() >= max || chunk[0] > at) {
                break; // done, or a chunk not written yet: the log ends before it for now
            }
            if (end <= at) {
                continue;
            }
            try (InputStream in = objects.get(prefix + String.format("%020d", chunk[0]), at - chunk[0])) {
                byte[] part = in.readNBytes((int) Math.min(end - at, max - out.size()));
                out.write(part);
                at += part.length;
            }
        }
        return out.toByteArray();
    }
}
