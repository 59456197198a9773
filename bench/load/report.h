// Printing a load run's result: a human-readable summary or one JSON object
// (the format bench/compare reads). Stateless.
#ifndef MUXCHAT_BENCH_LOAD_REPORT_H_
#define MUXCHAT_BENCH_LOAD_REPORT_H_

#include <cstdio>
#include <string>

#include "bench/load/load_generator.h"

namespace muxchat::bench {

void PrintTextReport(const LoadOptions& o, const LoadResult& r, const std::string& pin_note, FILE* out);
void PrintJsonReport(const LoadOptions& o, const LoadResult& r, const std::string& pin_note, FILE* out);

}  // namespace muxchat::bench

#endif  // MUXCHAT_BENCH_LOAD_REPORT_H_
