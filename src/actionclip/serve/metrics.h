#pragma once
// A Prometheus metrics registry: counters, gauges and histograms with labels, rendered in the
// text exposition format (version 0.0.4) that Prometheus scrapes from GET /metrics.
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace actionclip::serve {

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class MetricsRegistry {
 public:
  // A family must be declared before it is updated; updating an undeclared or differently typed
  // family throws std::logic_error (a programming error, not a user's).
  void declare_counter(const std::string& name, const std::string& help);
  void declare_gauge(const std::string& name, const std::string& help);
  // BUCKETS: upper bounds, ascending; +Inf is implied.
  void declare_histogram(const std::string& name, const std::string& help, std::vector<double> buckets);

  void increment(const std::string& name, const MetricLabels& labels = {}, double by = 1);
  void set(const std::string& name, double value, const MetricLabels& labels = {});
  void observe(const std::string& name, double value, const MetricLabels& labels = {});

  double value(const std::string& name, const MetricLabels& labels = {}) const;  // counter or gauge
  double histogram_count(const std::string& name, const MetricLabels& labels = {}) const;

  std::string render() const;

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Histogram {
    std::vector<double> counts;  // per bucket, not cumulative; the last is +Inf
    double sum = 0;
    double count = 0;
  };
  struct Family {
    Kind kind;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, double> values;         // rendered labels -> value
    std::map<std::string, Histogram> histograms;  // rendered labels -> histogram
  };

  Family& family(const std::string& name, Kind kind);
  const Family& family(const std::string& name, Kind kind) const;
  void declare(const std::string& name, Kind kind, const std::string& help, std::vector<double> buckets);

  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
};

// Prometheus' escaping of a label value: backslash, double quote and line feed.
std::string escape_label_value(const std::string& value);

}  // namespace actionclip::serve
