"""Sample texts (written for this project) used by the app's examples, the benchmark and the tests."""
from __future__ import annotations

SEED = "张三在北京清华大学任职期间，曾赴上海参加国际人工智能大会。"

NEWS = ("新华社北京3月5日电 国务院总理李强5日在十四届全国人大二次会议上作政府工作报告。"
        "报告指出，今年将继续推进京津冀协同发展和长江经济带建设，支持香港、澳门更好融入国家发展大局。"
        "来自广东省的全国人大代表王建华表示，深圳和广州的科技企业对报告提出的新质生产力充满期待。")

REPORT = ("2023年，中国科学院与浙江大学联合成立了人工智能研究中心，中心主任由李明教授担任。"
          "研究中心位于杭州市西湖区，与阿里巴巴集团、华为技术有限公司开展了多项合作。"
          "同年十月，研究团队赴德国柏林参加学术会议，并与慕尼黑工业大学签署了合作备忘录。"
          "联合国教科文组织的专家对该中心的工作给予了高度评价。"
          "此外，中心还与复旦大学、南京大学以及武汉大学的研究人员共同发表了论文。")

POST = ("今天和小王一起去了成都的宽窄巷子🥳，人超级多！晚上在春熙路吃火锅，"
        "听说周杰伦下个月要来成都开演唱会，好想去啊～ #成都美食# @四川日报")

MIXED = ("Apple公司CEO蒂姆·库克（Tim Cook）于2024年6月访问上海，会见了上海市市长龚正，"
         "并参观了位于浦东新区的Apple Store旗舰店。iPhone 15在中国市场销量同比增长12%。")

EXAMPLES = [SEED, NEWS, REPORT, POST, MIXED]


def text_of_length(n: int) -> str:
    """About ``n`` characters of realistic text, cut at a sentence end when possible."""
    base = NEWS + REPORT + POST + MIXED
    text = (base * (n // len(base) + 1))[:n]
    return text
