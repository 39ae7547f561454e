/* The C ABI of a compiled model: the generated C++ defines these functions, and
   `mnistc compile --shared -o libNAME.so` installs this header beside the library as
   libNAME.h. Usable from C and C++.

   Threads: up to OMP_NUM_THREADS (or omp_set_num_threads) per call. Unless OMP_DYNAMIC is
   false, each call runs on all of them or on one, whichever has had the lower tail
   latency lately: when other processes compete for the cores, threads waiting for each
   other at barriers would stall a call for a whole time slice. The result is bitwise the
   same either way. */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A model takes N inputs and gives M outputs (N, M >= 1), each a batch of samples of
   its own shape, all with the same number of samples. Input and output i are named as
   in the model file (ONNX graph inputs and outputs, TorchScript argument names,
   torch.export placeholders and outputs; "output" or "output_<i>" where the file names
   none). */
int64_t mnistc_model_num_inputs(void);
int64_t mnistc_model_num_outputs(void);
const char* mnistc_model_input_name(int64_t i);   /* NULL out of range */
const char* mnistc_model_output_name(int64_t i);  /* NULL out of range */
int64_t mnistc_model_input_size_of(int64_t i);    /* float32 elements per sample; -1 out of range */
int64_t mnistc_model_output_size_of(int64_t i);   /* float32 elements per sample; -1 out of range */
const char* mnistc_model_input_shape_of(int64_t i);  /* one sample's shape, "CxHxW"; NULL out of range */
const char* mnistc_model_output_shape_of(int64_t i); /* one sample's shape, "CxHxW"; NULL out of range */

/* Runs `batch` samples of every input: inputs[i] holds batch * mnistc_model_input_size_of(i)
   floats, outputs[j] receives batch * mnistc_model_output_size_of(j) floats (outputs may
   not overlap each other or the inputs). Returns 0 on success, non-zero on invalid
   arguments (a negative batch, a null pointer with batch > 0). Reentrant: several threads
   may call it at once (each calling thread has its own working memory), with the same
   results as one call at a time. */
int mnistc_model_run_n(const float* const* inputs, float* const* outputs, int64_t batch);

/* The same for a model of one input and one output: input holds batch * input_size
   floats, output receives batch * output_size floats. Returns 0 on success, 1 on invalid
   arguments, 2 when the model has several inputs or outputs (use mnistc_model_run_n). */
int mnistc_model_run(const float* input, float* output, int64_t batch);
int64_t mnistc_model_input_size(void);      /* float32 elements per sample of input 0 */
int64_t mnistc_model_output_size(void);     /* float32 elements per sample of output 0 */
const char* mnistc_model_input_shape(void); /* "CxHxW" of input 0, for messages */
/* What raw pixels go through before the model, as declared at compile time: JSON
   {"scale":s,"mean":[...],"std":[...],"channel_order":"rgb"|"bgr"} meaning
   (x * scale - mean) / std per channel; "" when none was declared. */
const char* mnistc_model_preprocessing(void);
/* "" for a model that runs any batch. A model whose input shape was fixed and whose graph
   works across its first dimension (indexes, reduces or reshapes along it) is imported
   whole: then this says why, its input shape is the whole input tensor, and
   mnistc_model_run takes exactly batch 1 (else returns non-zero). */
const char* mnistc_model_imported_whole(void);

/* Memory as planned at compile time, in bytes: the weights (embedded, with constant
   buffers), and per thread the buffers of one sample (the arena) and the kernels'
   scratch. A call on T threads holds at most weights + T * (buffers + scratch), besides
   code, stacks and the caller's input and output. */
int64_t mnistc_model_weight_bytes(void);
int64_t mnistc_model_buffer_bytes(void);
int64_t mnistc_model_scratch_bytes(void);

/* Profiling: mnistc_model_profile(1) zeroes the counters and from then on adds the wall
   time of every kernel call to its entry (summed over threads, so over the elapsed time
   when samples run in parallel); mnistc_model_profile(0) stops. Entry i is named
   "kernel -> buffer" in the order of the generated code; stopping keeps the counts. */
void mnistc_model_profile(int enable);
int64_t mnistc_model_profile_count(void);
const char* mnistc_model_profile_name(int64_t i); /* NULL out of range */
double mnistc_model_profile_seconds(int64_t i);
/* Floating-point operations of entry i for one sample, counted as the direct algorithm's
   (a Winograd convolution as a direct one; kernels/abi.py); 0 for kernels that move data. */
int64_t mnistc_model_profile_flops(int64_t i);

#ifdef __cplusplus
}
#endif
