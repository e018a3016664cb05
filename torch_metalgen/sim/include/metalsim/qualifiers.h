// Metal keywords that C++ lacks, defined last so that no C++ standard header sees them.
#pragma once

// Address spaces as clang address spaces: passing a `device float*` where a
// `threadgroup float*` is expected, or writing through `constant`, fails to compile
// as in Metal. The AddressSanitizer build drops them (ASan does not instrument
// accesses through address-space-qualified pointers); a separate syntax-only pass
// keeps the type checks there.
#ifdef METALSIM_NO_ADDRESS_SPACES
#define device
#define constant const
#define threadgroup
#else
#define device __attribute__((address_space(1)))
#define constant const __attribute__((address_space(2)))  // read-only, as in Metal
#define threadgroup __attribute__((address_space(3)))
#endif
#define thread
#define threadgroup_imageblock threadgroup
// A free function overloaded on address spaces alone exists once without them
// (rewrite.py _free_function_overloads_pass).
#ifdef METALSIM_NO_ADDRESS_SPACES
#define METALSIM_AS_ONLY(...)
#else
#define METALSIM_AS_ONLY(...) __VA_ARGS__
#endif
#define kernel [[clang::annotate("metal", "kernel")]]
// The rewrite's Metal attributes (rewrite.py _annotate): read from the AST of the
// front-end pass. Code generation (METALSIM_CODEGEN: the library and ASan builds) drops
// them: clang keeps an annotated parameter in a stack slot (llvm.var.annotation), which
// made every use of a kernel argument a traced memory access.
#ifdef METALSIM_CODEGEN
#define METALSIM_ANNOTATE(...)
#else
#define METALSIM_ANNOTATE(...) clang::annotate(__VA_ARGS__)
#endif
// Apple's headers spell an always-inlined helper this way (MLX uses it).
#ifndef METAL_FUNC
#define METAL_FUNC inline __attribute__((always_inline))
#endif
// Metal has no double; unsuffixed literals are made float by the source rewrite.
#define double metal_has_no_double_use_float

#ifndef __METAL_VERSION__
#define __METAL_VERSION__ 310
#endif
