package dev.kiln.builder.sandbox;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Just enough of a 64-bit little-endian ELF header to tell whether a host tool needs a dynamic loader, and which. */
final class Elf {
    private static final int PT_INTERP = 3;

    private Elf() {
    }

    /** Whether {@code file} is a 64-bit little-endian ELF file (the only kind recognised). */
    static boolean is(Path file) {
        try (FileChannel ch = FileChannel.open(file)) {
            return isElf64(header(ch));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** An ELF file without an interpreter: it runs where no libraries are. */
    static boolean isStatic(Path file) {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer header = header(ch);
            return isElf64(header) && interpreter(ch, header) == null;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The dynamic loader {@code file} names ({@code PT_INTERP}), or null when it has none or is no ELF file. */
    static String interpreter(Path file) {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer header = header(ch);
            return isElf64(header) ? interpreter(ch, header) : null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static ByteBuffer header(FileChannel ch) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        ch.read(header, 0);
        return header;
    }

    private static boolean isElf64(ByteBuffer header) {
        return header.position() >= 64 && header.getInt(0) == 0x464c457f && header.get(4) == 2 && header.get(5) == 1;
    }

    private static String interpreter(FileChannel ch, ByteBuffer header) throws IOException {
        long phoff = header.getLong(32);
        int phentsize = Short.toUnsignedInt(header.getShort(54));
        int phnum = Short.toUnsignedInt(header.getShort(56));
        ByteBuffer ph = ByteBuffer.allocate(phentsize * phnum).order(ByteOrder.LITTLE_ENDIAN);
        ch.read(ph, phoff);
        for (int i = 0; i < phnum; i++) {
            if (ph.getInt(i * phentsize) == PT_INTERP) {
                long offset = ph.getLong(i * phentsize + 8);
                int size = (int) Math.min(ph.getLong(i * phentsize + 32), 4096);
                ByteBuffer name = ByteBuffer.allocate(size);
                ch.read(name, offset);
                String s = new String(name.array(), 0, name.position(), StandardCharsets.UTF_8);
                int nul = s.indexOf('\0');
                return nul >= 0 ? s.substring(0, nul) : s;
            }
        }
        return null;
    }
}
