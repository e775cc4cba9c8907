// CRC-32 (ISO-HDLC / zlib / PNG: reflected polynomial 0xEDB88320, initial value and final
// xor 0xFFFFFFFF), the checksum of model.dft version 2. Python computes the same value with
// zlib.crc32 (deepft/io/model_file.py); crc32("123456789") == 0xCBF43926.
#pragma once

#include <cstddef>
#include <cstdint>

namespace deepft {

/// CRC-32 of `n` bytes at `data`, continuing from `crc` (0 for a fresh checksum), like
/// zlib.crc32(data, crc).
uint32_t crc32(const void* data, size_t n, uint32_t crc = 0) noexcept;

}  // namespace deepft
