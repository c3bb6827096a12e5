#include "daemon/server/result_shaping.h"

#include "gtest/gtest.h"

namespace ringwatch {
namespace {

v1::AggregationResult Sample() {
  v1::AggregationResult r;
  r.set_name("by_comm");
  r.add_key_names("comm");
  r.add_key_names("pid");
  r.add_value_names("count");
  r.set_distinct_keys(5);
  struct R {
    const char* comm;
    int64_t pid;
    uint64_t count;
  };
  for (R k : {R{"nginx", 20, 30}, R{"nginx", 21, 20}, R{"bash", 10, 5},
              R{"sshd", 30, 4}}) {
    v1::Row* row = r.add_row();
    row->set_kind(v1::Row::KEY);
    row->add_key()->set_string_value(k.comm);
    row->add_key()->set_int_value(k.pid);
    row->set_count(k.count);
  }
  v1::Row* other = r.add_row();
  other->set_kind(v1::Row::OTHER);
  other->set_count(2);
  return r;
}

TEST(ResultShapingTest, KeyTextJoinsValues) {
  EXPECT_EQ(KeyText(Sample().row(0)), "nginx,20");
  v1::Row negative;
  negative.add_key()->set_int_value(-3);
  EXPECT_EQ(KeyText(negative), "-3");
}

TEST(ResultShapingTest, NoShapeCopiesEverything) {
  v1::AggregationResult out;
  ShapeResult(Sample(), ResultShape{}, &out);
  EXPECT_EQ(out.SerializeAsString(), Sample().SerializeAsString());
}

TEST(ResultShapingTest, TopNKeepsOrderAndTheOtherRow) {
  v1::AggregationResult out;
  ShapeResult(Sample(), ResultShape{2, ""}, &out);
  ASSERT_EQ(out.row_size(), 3);
  EXPECT_EQ(KeyText(out.row(0)), "nginx,20");
  EXPECT_EQ(KeyText(out.row(1)), "nginx,21");
  EXPECT_EQ(out.row(2).kind(), v1::Row::OTHER);
  EXPECT_EQ(out.distinct_keys(), 5u);
  EXPECT_EQ(out.rows_filtered(), 0u);
}

TEST(ResultShapingTest, KeyFilterSubstringAndGlob) {
  v1::AggregationResult out;
  ShapeResult(Sample(), ResultShape{0, "s"}, &out);  // Substring.
  ASSERT_EQ(out.row_size(), 2);
  EXPECT_EQ(KeyText(out.row(0)), "bash,10");
  EXPECT_EQ(KeyText(out.row(1)), "sshd,30");
  EXPECT_EQ(out.rows_filtered(), 2u);

  ShapeResult(Sample(), ResultShape{1, "*,2?"}, &out);  // Glob, then top 1.
  ASSERT_EQ(out.row_size(), 1);
  EXPECT_EQ(KeyText(out.row(0)), "nginx,20");
  EXPECT_EQ(out.rows_filtered(), 2u);
}

TEST(ResultShapingTest, NegativeTopNIsRejected) {
  absl::Status s = ValidateResultShape(ResultShape{-1, ""});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("top_n is -1"), absl::string_view::npos);
  EXPECT_TRUE(ValidateResultShape(ResultShape{5, "x"}).ok());
}

}  // namespace
}  // namespace ringwatch
