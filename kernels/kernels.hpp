// mnistc kernels: the operators that generated code calls, one function per `cpu.call`.
//
// Conventions (see dialects/cpu.py): `cpu.call @name` calls `mnistc_name`; buffers are
// dense row-major float32, inputs come first, then outputs, then int64_t parameters in
// the order documented here. Every kernel processes one sample (batch dimension 1) and
// parallelises with OpenMP. The C ABI lets tests call the kernels through ctypes.
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Epilogue activations of conv2d and linear; the codes match
// mnistc/lowering/convert_nn_to_cpu.py:ACTIVATION_CODES.
enum { MNISTC_ACTIVATION_NONE = 0, MNISTC_ACTIVATION_RELU = 1 };

// NCHW input [C,H,W], weight [K, C/groups, KH, KW], optional bias [K] (nullptr),
// output [K,OH,OW].
void mnistc_conv2d(const float* input, const float* weight, const float* bias,
                   float* output, int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH,
                   int64_t OW, int64_t KH, int64_t KW, int64_t stride_h, int64_t stride_w,
                   int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w,
                   int64_t groups, int64_t activation);

// input [M, IN], weight [OUT, IN], optional bias [OUT], output [M, OUT].
void mnistc_linear(const float* input, const float* weight, const float* bias,
                   float* output, int64_t M, int64_t IN, int64_t OUT, int64_t activation);

// Max over windows; padded positions never win (PyTorch semantics).
void mnistc_max_pool2d(const float* input, float* output, int64_t C, int64_t H, int64_t W,
                       int64_t OH, int64_t OW, int64_t KH, int64_t KW, int64_t stride_h,
                       int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h,
                       int64_t dilation_w);

void mnistc_relu(const float* input, float* output, int64_t count);

// Softmax over the middle axis of a tensor seen as [outer, axis, inner].
void mnistc_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                    int64_t inner);
void mnistc_log_softmax(const float* input, float* output, int64_t outer, int64_t axis,
                        int64_t inner);

void mnistc_copy(const float* input, float* output, int64_t count);

#ifdef __cplusplus
}  // extern "C"
#endif
