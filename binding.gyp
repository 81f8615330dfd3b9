# The kafka_turbo Node-API addon.
#
# The x86 SIMD CRC32C code sits in static libraries of its own, each compiled with the
# -m flags it needs, so everything else in the binary stays baseline x86-64 and one build
# runs on any x86-64 CPU; native/src/crc32c/dispatch.cc picks the level from CPUID at run
# time. On arm64 the ARMv8 CRC32 + PMULL code sits likewise in a static library of its own
# (crc32c_armv8, -mcpu=generic+crc+crypto, a spelling both GCC and clang/zig accept), chosen
# from getauxval(AT_HWCAP). Other architectures build the portable table code only.
#
# Variables (node-gyp turns --name=value options into gyp variables):
#   kt_sanitize=1   AddressSanitizer + UndefinedBehaviorSanitizer (npm run build:native:asan;
#                   load it with LD_PRELOAD=$(gcc -print-file-name=libasan.so))
#   kt_static_codecs=1 kt_static_dir=/abs/dir
#                   link liblz4.a, libzstd.a and libsnappy.a from that directory (built
#                   with -fPIC) instead of -llz4 -lzstd -lsnappy: the portable prebuilt binary
#                   (scripts/prebuild-zig.sh, npm run build:prebuilt). Linux only.
#                   Headers in <(kt_static_dir)/include come first (the cross builds of
#                   scripts/prebuild-zig.sh have no host headers); liburing.a is linked too
#                   when kt_static_uring=1 (replacing -luring / -l:liburing.a).
#   kt_cxx_runtime=1
#                   compile native/src/runtime/cxx_runtime.cc in: the few C++ runtime pieces
#                   the addon uses, so it links with no C++ library (the zig cross builds
#                   link with `zig cc`, which adds none; zig's libc++ would otherwise be built
#                   from source for every target). Only with libc++'s headers (zig c++).
#   kt_version_script=/abs/file.map
#                   hide every symbol but the module's entry points with a linker version
#                   script instead of --exclude-libs, which zig's linker lacks (the cross
#                   builds of scripts/prebuild-zig.sh pass scripts/zig/exports.map).
{
  'variables': {
    'kt_sanitize%': 0,
    'kt_static_codecs%': 0,
    'kt_static_dir%': '',
    'kt_static_uring%': 0,
    'kt_version_script%': '',
    'kt_cxx_runtime%': 0,
  },
  'target_defaults': {
    'cflags_cc!': ['-std=gnu++17', '-std=gnu++20'],
    'cflags_cc': ['-std=c++17', '-fno-exceptions', '-fvisibility=hidden'],
    'cflags': ['-Wall', '-Wextra'],
    'xcode_settings': {
      'CLANG_CXX_LANGUAGE_STANDARD': 'c++17',
      'GCC_ENABLE_CPP_EXCEPTIONS': 'NO',
      'GCC_SYMBOLS_PRIVATE_EXTERN': 'YES',
    },
    'msvs_settings': {
      'VCCLCompilerTool': {'AdditionalOptions': ['/std:c++17']},
    },
    'conditions': [
      ['target_arch=="x64"', {'defines': ['KAFKA_TURBO_CRC32C_X86']}],
      ['target_arch=="arm64" and OS=="linux"', {'defines': ['KAFKA_TURBO_CRC32C_ARM64']}],
      ['kt_sanitize==1', {
        'cflags': ['-fsanitize=address,undefined', '-fno-omit-frame-pointer', '-g'],
        'ldflags': ['-fsanitize=address,undefined'],
        'xcode_settings': {
          'OTHER_CFLAGS': ['-fsanitize=address,undefined', '-fno-omit-frame-pointer', '-g'],
          'OTHER_LDFLAGS': ['-fsanitize=address,undefined'],
        },
      }],
    ],
  },
  'targets': [
    {
      'target_name': 'kafka_turbo',
      'sources': [
        'native/src/addon.cc',
        'native/src/binding/crc32c.cc',
        'native/src/binding/record_batch.cc',
        'native/src/binding/accumulator.cc',
        'native/src/binding/buffer_pool.cc',
        'native/src/binding/memory_stats.cc',
        'native/src/core/record_batch.cc',
        'native/src/core/packed.cc',
        'native/src/core/accumulator.cc',
        'native/src/core/compress_worker.cc',
        'native/src/compress/gzip.cc',
        'native/src/compress/lz4.cc',
        'native/src/compress/snappy.cc',
        'native/src/compress/zstd.cc',
        'native/src/crc32c/dispatch.cc',
        'native/src/crc32c/portable.cc',
      ],
      'dependencies': [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api",
      ],
      'defines': ['NAPI_VERSION=8', 'NODE_ADDON_API_DISABLE_DEPRECATED'],
      # lz4, zstd and snappy from the system (Debian: liblz4-dev, libzstd-dev, libsnappy-dev).
      # gzip uses the zlib that Node itself exports to addons (zlib.h ships with Node's
      # headers), so zlib is not linked here.
      'libraries': ['-llz4', '-lzstd', '-lsnappy'],
      'conditions': [
        # The io_uring transport (native/src/io, binding/uring.cc): Linux only, liburing from
        # Debian's liburing-dev linked statically (its liburing.a is -fPIC), so the addon
        # needs no liburing at run time and the portable prebuilt carries it.
        ['OS=="linux"', {
          'sources': ['native/src/io/ring.cc', 'native/src/binding/uring.cc'],
          'defines': ['KAFKA_TURBO_IO_URING'],
          'libraries': ['-l:liburing.a'],
        }],
        ['target_arch=="x64"', {
          'dependencies': ['crc32c_sse42', 'crc32c_avx512'],
        }],
        # The static alternative: the same three libraries as archives (full paths). snappy is
        # C++; the link already pulls in libstdc++ (dynamic, as on every glibc Linux). The
        # archives' symbols are not exported (--exclude-libs), so the addon's calls bind to
        # its own copies even if the host process exports other versions of these libraries.
        ['kt_static_codecs==1', {
          'libraries!': ['-llz4', '-lzstd', '-lsnappy'],
          'libraries': [
            '<(kt_static_dir)/libsnappy.a',
            '<(kt_static_dir)/libzstd.a',
            '<(kt_static_dir)/liblz4.a',
          ],
          'ldflags': ['-Wl,--exclude-libs,ALL'],
          'include_dirs': ['<(kt_static_dir)/include'],
        }],
        ['kt_version_script!=""', {
          'ldflags!': ['-Wl,--exclude-libs,ALL'],
          'ldflags': ['-Wl,--version-script=<(kt_version_script)'],
        }],
        ['kt_static_codecs==1 and kt_static_uring==1', {
          'libraries!': ['-luring', '-l:liburing.a'],
          'libraries': ['<(kt_static_dir)/liburing.a'],
        }],
        ['target_arch=="arm64" and OS=="linux"', {
          'dependencies': ['crc32c_armv8'],
        }],
        ['kt_cxx_runtime==1', {
          'sources': ['native/src/runtime/cxx_runtime.cc'],
        }],
      ],
    },
  ],
  'conditions': [
    ['target_arch=="x64"', {
      'targets': [
        {
          'target_name': 'crc32c_sse42',
          'type': 'static_library',
          'sources': ['native/src/crc32c/sse42.cc'],
          'cflags': ['-fPIC', '-msse4.2', '-mpclmul'],
          'xcode_settings': {'OTHER_CFLAGS': ['-msse4.2', '-mpclmul']},
        },
        {
          'target_name': 'crc32c_avx512',
          'type': 'static_library',
          'sources': ['native/src/crc32c/avx512.cc'],
          'cflags': ['-fPIC', '-mavx512f', '-mavx512vl', '-mavx512bw', '-mvpclmulqdq',
                     '-mpclmul'],
          'xcode_settings': {
            'OTHER_CFLAGS': ['-mavx512f', '-mavx512vl', '-mavx512bw', '-mvpclmulqdq',
                             '-mpclmul'],
          },
        },
      ],
    }],
    ['target_arch=="arm64" and OS=="linux"', {
      'targets': [
        {
          'target_name': 'crc32c_armv8',
          'type': 'static_library',
          'sources': ['native/src/crc32c/armv8.cc'],
          'cflags': ['-fPIC', '-mcpu=generic+crc+crypto'],
        },
      ],
    }],
  ],
}
