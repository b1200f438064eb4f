package dev.kiln.store;

import java.io.IOException;

public class UploadOffsetException extends IOException {
    private final long currentSize;

    public UploadOffsetException(long expected, long currentSize) {
        super("chunk starts at " + expected + " but the upload has " + currentSize + " bytes");
        this.currentSize = currentSize;
    }

    public long currentSize() {
        return currentSize;
    }
}
