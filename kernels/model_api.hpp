// The C ABI of a compiled model; the generated C++ defines these functions.
#pragma once

#include <cstdint>

extern "C" {
// Runs `batch` samples: input holds batch * input_size floats, output batch * output_size.
// Returns 0 on success.
int mnistc_model_run(const float* input, float* output, int64_t batch);
int64_t mnistc_model_input_size(void);       // float32 elements per input sample
int64_t mnistc_model_output_size(void);      // float32 elements per output sample
const char* mnistc_model_input_shape(void);  // "CxHxW", for messages
}
