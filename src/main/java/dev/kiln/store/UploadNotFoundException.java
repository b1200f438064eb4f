package dev.kiln.store;

import java.io.FileNotFoundException;

public class UploadNotFoundException extends FileNotFoundException {
    public UploadNotFoundException(String id) {
        super("upload session " + id + " is unknown or has expired");
    }
}
