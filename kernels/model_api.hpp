/* The C ABI of a compiled model: the generated C++ defines these functions, and
   `mnistc compile --shared -o libNAME.so` installs this header beside the library as
   libNAME.h. Usable from C and C++. Threads follow OMP_NUM_THREADS. */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Runs `batch` samples: input holds batch * input_size floats, output receives
   batch * output_size floats. Returns 0 on success, non-zero on invalid arguments.
   Not reentrant: one call at a time per process. */
int mnistc_model_run(const float* input, float* output, int64_t batch);
int64_t mnistc_model_input_size(void);      /* float32 elements per input sample */
int64_t mnistc_model_output_size(void);     /* float32 elements per output sample */
const char* mnistc_model_input_shape(void); /* "CxHxW", for messages */

#ifdef __cplusplus
}
#endif
